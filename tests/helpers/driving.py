"""People answering what their notices ask: on the time-skipping server while time moves on, or in real time."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import Client

from demo.personas import Persona, answer_everything
from domain.answers import OptIn
from domain.notices import NoticeKind
from domain.people import Participant
from domain.program import ProgramPhase
from domain.prompts import PendingPrompt, PromptKind
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR
from tests.helpers.programs import Handle, status
from tests.helpers.waiting import skip


def personas_for(roster: list[Participant], **special: Persona) -> dict[str, Persona]:
    people = {p.email: special.get(p.email.split("@")[0], Persona(p.email)) for p in roster}
    people[COORDINATOR] = Persona(COORDINATOR)
    return people


Condition = Callable[[], Awaitable[bool]]
# The program phase each prompt belongs to; a pairing's prompts come while the program is mentoring.
PROMPT_PHASE = {
    PromptKind.OPT_IN: ProgramPhase.RECRUITMENT,
    PromptKind.TRAINING: ProgramPhase.TRAINING,
    PromptKind.PREFERENCES: ProgramPhase.TRAINING,
    PromptKind.APPROVE_MATCHES: ProgramPhase.MATCHING,
}
PHASES = list(ProgramPhase)


def held_back(until: ProgramPhase | None) -> frozenset[PromptKind]:
    """Prompts nobody answers while driving `until` a phase: those of that phase and after. (The last training
    answer moves the program to matching at once, and an approval in the same pass would carry it past.)"""
    if until is None:
        return frozenset()
    return frozenset(
        kind
        for kind in PromptKind
        if PHASES.index(PROMPT_PHASE.get(kind, ProgramPhase.MENTORING)) >= PHASES.index(until)
    )


async def drive(
    h: Harness,
    handle: Handle,
    personas: dict[str, Persona],
    step: timedelta = timedelta(hours=12),
    until: ProgramPhase | None = None,
    until_true: Condition | None = None,
    max_steps: int = 400,
) -> list[str]:
    """Answer and advance time until the program finishes, reaches `until` or `until_true()` holds.

    Everyone looks at their prompts at first (a notice may still be on its way); after that, people answer when a
    notice asks them to (a prompt, or a reminder of one), as they would from their email: asking every person's
    prompts at every step cost thousands of queries per program. The condition is checked before anyone answers,
    so on return the prompts it waited for are still open. Returns what people did.
    """
    log: list[str] = []
    holding = held_back(until)
    read: set[str] = set()  # notice keys already read
    asked = set(personas)
    for _ in range(max_steps):
        current = await status(handle)
        if current.phase in (ProgramPhase.COMPLETED, ProgramPhase.CANCELLED) or current.phase == until:
            return log
        if until_true is not None and await until_true():
            return log
        asked |= newly_asked(h, read)
        log += await answer_everything(h.client, handle.id, {e: p for e, p in personas.items() if e in asked}, holding)
        asked = set()
        await skip(h.env, step)
    raise AssertionError(f"program still in {(await status(handle)).phase} after {max_steps} steps")


def newly_asked(h: Harness, read: set[str]) -> set[str]:
    """Who got a prompt or a reminder since the notices in `read` (which it then adds to)."""
    fresh = [n for n in h.notices() if n["key"] not in read]
    read.update(n["key"] for n in fresh)
    return {n["to"] for n in fresh if n["kind"] in (NoticeKind.PROMPT, NoticeKind.REMINDER)}


async def answer_until(
    h: Harness,
    handle: Handle,
    personas: dict[str, Persona],
    condition: Condition,
    attempts: int = 300,
) -> None:
    """On a real-time server: answer until `condition()` holds, polling since workflows move on by themselves.

    Nothing here depends on how fast the server is; the bound only stops a test that can never get there.
    """
    for _ in range(attempts):
        if await condition():
            return
        await answer_everything(h.client, handle.id, personas)
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not reached; program in {(await status(handle)).phase}")


async def opt_in_everyone(client: Client, program_id: str, people: list[Participant]) -> None:
    """Everyone opts in once invited, ten answers in flight at a time (the most a real server takes per workflow)."""
    handle = client.get_workflow_handle(program_id)
    for _ in range(200):  # the invitations go out in the program's first workflow task
        prompts = await handle.query("pending_prompts", people[0].email, result_type=list[PendingPrompt])
        if prompts:
            break
        await asyncio.sleep(0.05)
    gate = asyncio.Semaphore(10)

    async def opt_in(email: str) -> None:
        async with gate:
            await handle.execute_update(
                "opt_in", OptIn(participant=email, consent_to_ground_rules=True), result_type=str
            )

    await asyncio.gather(*(opt_in(p.email) for p in people))
