"""Driving a program on the time-skipping server: start it, let personas answer, move time on."""

from datetime import timedelta

from temporalio.client import WorkflowHandle

from demo.personas import Persona, answer_everything
from domain.people import Participant
from domain.program import ProgramInput, ProgramPhase, ProgramResult, ProgramStatus
from domain.spec import ProgramSpec
from tests.conftest import Harness
from tests.factories import COORDINATOR
from workflows import search
from workflows.program import ProgramWorkflow


async def start_program(h: Harness, spec: ProgramSpec, roster: list[Participant]) -> WorkflowHandle:  # type: ignore[type-arg]
    return await h.client.start_workflow(
        ProgramWorkflow.run,
        ProgramInput(spec=spec, roster=roster),
        id=f"{spec.program_id}-{h.settings.task_queue[-8:]}",  # unique per test on the shared server
        task_queue=h.settings.task_queue,
        search_attributes=search.initial(spec.program_id, "recruitment", "program"),
    )


def personas_for(roster: list[Participant], **special: Persona) -> dict[str, Persona]:
    people = {p.email: special.get(p.email.split("@")[0], Persona(p.email)) for p in roster}
    people[COORDINATOR] = Persona(COORDINATOR)
    return people


async def status(handle: WorkflowHandle) -> ProgramStatus:  # type: ignore[type-arg]
    return await handle.query("status", result_type=ProgramStatus)


async def drive(
    h: Harness,
    handle: WorkflowHandle,  # type: ignore[type-arg]
    personas: dict[str, Persona],
    step: timedelta = timedelta(hours=12),
    until: ProgramPhase | None = None,
    max_steps: int = 400,
) -> list[str]:
    """Answer and advance time until the program finishes (or reaches `until`); returns what people did."""
    log: list[str] = []
    for _ in range(max_steps):
        current = await status(handle)
        if current.phase in (ProgramPhase.COMPLETED, ProgramPhase.CANCELLED) or current.phase == until:
            return log
        log += await answer_everything(h.client, handle.id, personas)
        await h.env.sleep(step)
    raise AssertionError(f"program still in {(await status(handle)).phase} after {max_steps} steps")


async def result(handle: WorkflowHandle) -> ProgramResult:  # type: ignore[type-arg]
    outcome = await handle.result()
    assert isinstance(outcome, ProgramResult)
    return outcome
