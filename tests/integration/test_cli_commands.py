"""The coordinator's commands: `status|prompts|programs --json` print JSON a script can load into the same models;
`add-participant` invites people from a roster file, `rematch` ends a pairing, each refused in the program's words.

In process (`starter.run`), against the test's dev server and a worker as `worker.py` builds it; the exit statuses
of the same commands as processes are tested in test_exits.py.
"""

import uuid
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from temporalio.testing import WorkflowEnvironment

import starter
from adapters.store.queries import ProgramSummary
from domain.program import ProgramPhase, ProgramStatus
from domain.prompts import PendingPrompt, PromptKind
from settings import Settings
from starter import CliError
from tests.helpers.programs import DEMO, DEMO_COORDINATOR, demo_spec, settings_for, worker_for

PERSON = "ana.lopez@flipside.example"  # on the demo roster


async def cli(settings: Settings, *args: str) -> str:
    return await starter.run(starter.parse_args(list(args)), settings)


def demo_program(dev_env: WorkflowEnvironment, tmp_path: Path, prefix: str) -> tuple[Settings, str, Path]:
    """The test's settings, a fresh slug and the demo's spec under it."""
    slug = f"{prefix}-{uuid.uuid4().hex[:6]}"
    return settings_for(dev_env, tmp_path), slug, demo_spec(tmp_path / "program.toml", slug)


async def test_the_reading_commands_print_json_that_loads_into_their_models(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings, slug, spec = demo_program(dev_env, tmp_path, "json")
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


NEWCOMER_ROW = "zoe.new@flipside.example,Zoe New,mentor,1,design,figma,negotiation,music,Europe/Lisbon,"


async def test_people_are_added_from_a_roster_file_and_refusals_are_named_per_person(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings, slug, spec = demo_program(dev_env, tmp_path, "add")
    header, first, *_ = (DEMO / "roster.csv").read_text(encoding="utf-8").splitlines()
    more = tmp_path / "more.csv"
    more.write_text("\n".join([header, NEWCOMER_ROW, first, ""]), encoding="utf-8")  # one new, one invited already
    me = ("--coordinator", DEMO_COORDINATOR)
    async with worker_for(settings):
        await cli(settings, "start", str(spec), str(DEMO / "roster.csv"))
        invited = ProgramStatus.model_validate_json(await cli(settings, "status", slug, "--json")).funnel.invited
        with pytest.raises(CliError) as partly:
            await cli(settings, "add-participant", slug, str(more), *me)
        after = ProgramStatus.model_validate_json(await cli(settings, "status", slug, "--json")).funnel.invited
        with pytest.raises(CliError) as unknown:
            await cli(settings, "rematch", slug, "pairing-nobody", *me, "--reason", "a typo")
        with pytest.raises(CliError) as nobody:
            await cli(settings, "rematch", slug, "pairing-nobody", "--reason", "a typo")
        await cli(settings, "cancel", slug, *me, "--reason", "the test is over")

    said = str(partly.value).splitlines()
    assert said[0] == "some people were not added:"
    assert said[1].startswith("zoe.new@flipside.example: ") and "refused" not in said[1]
    assert said[2] == f"{first.split(',')[0]}: refused: {first.split(',')[0]} is already invited"
    assert after == invited + 1
    assert str(unknown.value).startswith("refused: there is no pairing") and "pairing-nobody" in str(unknown.value)
    assert "--coordinator" in str(nobody.value)
