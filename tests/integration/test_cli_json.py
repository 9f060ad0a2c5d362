"""`starter.py status|prompts|programs --json`: what the CLI reads, as JSON a script can load into the same models.

In process (`starter.run`), against the test's dev server and a worker as `worker.py` builds it; the exit statuses
of the same commands as processes are tested in test_exits.py.
"""

import uuid
from pathlib import Path

from pydantic import TypeAdapter
from temporalio.testing import WorkflowEnvironment

import starter
from adapters.store.queries import ProgramSummary
from domain.program import ProgramPhase, ProgramStatus
from domain.prompts import PendingPrompt, PromptKind
from settings import Settings
from tests.helpers.programs import DEMO, DEMO_COORDINATOR, demo_spec, settings_for, worker_for

PERSON = "ana.lopez@flipside.example"  # on the demo roster


async def cli(settings: Settings, *args: str) -> str:
    return await starter.run(starter.parse_args(list(args)), settings)


async def test_the_reading_commands_print_json_that_loads_into_their_models(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = settings_for(dev_env, tmp_path)
    slug = f"json-{uuid.uuid4().hex[:6]}"
    spec = demo_spec(tmp_path / "program.toml", slug)
    people = len((DEMO / "roster.csv").read_text(encoding="utf-8").strip().splitlines()) - 1  # under its header
    async with worker_for(settings):
        await cli(settings, "start", str(spec), str(DEMO / "roster.csv"))
        status = ProgramStatus.model_validate_json(await cli(settings, "status", slug, "--json"))
        prompts = TypeAdapter(list[PendingPrompt]).validate_json(await cli(settings, "prompts", slug, PERSON, "--json"))
        words = await cli(settings, "prompts", slug, PERSON)
        listed = TypeAdapter(list[ProgramSummary]).validate_json(await cli(settings, "programs", "--json"))
        await cli(settings, "cancel", slug, "--coordinator", DEMO_COORDINATOR, "--reason", "the test is over")

    assert status.program_id == f"program-{slug}" and status.phase == ProgramPhase.RECRUITMENT
    assert status.funnel.invited == people
    [opt_in] = prompts
    assert opt_in.kind == PromptKind.OPT_IN and words.startswith(f"{opt_in.id} [opt_in]")
    [program] = listed
    assert (program.program_id, program.phase, program.invited) == (status.program_id, "recruitment", people)
