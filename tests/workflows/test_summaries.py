"""What the Temporal UI says of a workflow: summaries, details and labels that tell the story, with nothing personal.

The wording is pure (domain/summaries.py) and tested here without a server; a whole program on the time-skipping
server then shows that every activity, timer and child is labelled, that current details follow the answers,
and that no label, summary or detail of any history holds a name, an email or words a person wrote.
tests/test_ui_story.py shows the same in the Temporal UI, with the codec server and without it.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle, WorkflowHistory

from adapters.codec import DATA_CONVERTER
from domain.answers import CoordinatorAction, OptIn
from domain.spec import ProgramSpec
from domain.summaries import (
    current_details,
    events_label,
    notices_label,
    pairing_details,
    pairing_summary,
    program_details,
    program_summary,
    stage_words,
    timer_label,
)
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, pairing_terms, roster, spec
from tests.helpers.programs import start_program
from tests.helpers.waiting import skip
from workflows import search

Handle = WorkflowHandle[Any, Any]
PROGRAM = "program-digital-fluency-2026"


def personal_words(program: ProgramSpec, people: int = 2) -> list[str]:
    """Everything personal or typed by a person that a spec and a roster hold: none of it may reach a label."""
    everyone = roster(people)
    return [
        "@",  # any email
        *(p.name for p in everyone),
        *(p.department for p in everyone),
        *(s for p in everyone for s in p.skills_offered),
        program.name,
        program.purpose,
        *(g.goal for g in program.business_goals),
        *program.ground_rules,
        *program.training_modules,
    ]


# The words, without a server


def test_a_program_summary_names_its_id_size_and_phase_plan() -> None:
    assert program_summary(PROGRAM, spec(), 20) == (
        "Program program-digital-fluency-2026: 20 people, recruitment 2d → training 2d → matching → kick-off → "
        "mentoring 8w → close-out"
    )
    assert program_summary(PROGRAM, spec(), 1).startswith("Program program-digital-fluency-2026: 1 person,")


def test_program_details_hold_durations_and_counts_never_words_a_person_wrote() -> None:
    program = spec()
    details = program_details(PROGRAM, program, 20)
    for fact in [
        "`program-digital-fluency-2026`",
        "People on the roster: 20; coordinators: 1",
        "Training: 2d, 2 modules",
        "Matching: algorithm, approved by a coordinator; answers within 2d",
        "Mentoring: 8w from kick-off, check-ins every 1w, mid-point review at 4w",
        "Close-out: up to 1w4d",
        "Goals: checkin_adherence ≥ 0.6, skill_gain ≥ 1",
    ]:
        assert fact in details
    assert [w for w in personal_words(program) if w in details + program_summary(PROGRAM, program, 20)] == []


def test_a_pairing_summary_names_its_id_program_and_stage_plan() -> None:
    terms = pairing_terms(PROGRAM)
    pairing = "pairing-digital-fluency-2026-junior00-senior00"
    summary = pairing_summary(pairing, terms)
    assert summary.startswith(f"Pairing {pairing} of {PROGRAM}: introduction ")
    assert "→ planning" in summary and "(check-ins every " in summary and summary.endswith("→ close-out 1h")
    details = pairing_details(pairing, terms)
    assert "Coordinators alerted after 2 missed check-ins in a row" in details
    assert [w for w in personal_words(spec()) if w in summary + details] == []


def test_current_details_say_where_how_many_answers_and_by_when() -> None:
    due = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert current_details("recruitment", 12, due, paused=False) == (
        "**Now:** recruitment\n\n**Awaiting:** 12 answers, due by 2026-03-02 09:00 UTC"
    )
    assert current_details("mentoring", 0, None, paused=False) == "**Now:** mentoring\n\n**Awaiting:** no answers"
    paused = current_details("training", 1, None, paused=True)
    assert "**Paused** by a coordinator" in paused and "1 answer, due when the program resumes" in paused


def test_labels_count_kinds_and_never_name_anyone() -> None:
    assert notices_label(["prompt", "prompt", "reminder"]) == "Send 3 notices: 2 prompt, 1 reminder"
    assert events_label(["opted_in"]) == "Record 1 event: 1 opted_in"
    assert timer_label("recruitment", at_the_end=True) == "recruitment: until the deadline"
    assert timer_label("recruitment", at_the_end=False) == "recruitment: until a reminder or a prompt is due"
    assert stage_words("midpoint_review", 3) == "mid-point review, cycle 3"
    assert stage_words("close_out", 5) == "close-out"


# A whole program on the time-skipping server


async def metadata(handle: Handle) -> WorkflowMetadata:
    found: WorkflowMetadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return found


async def test_current_details_follow_every_answer_and_a_pause(harness: Harness) -> None:
    people = roster(2)
    handle = await start_program(harness, spec(), people)
    assert (await metadata(handle)).current_details.startswith(
        "**Now:** recruitment\n\n**Awaiting:** 4 answers, due by"
    )

    await handle.execute_update("opt_in", OptIn(participant=people[0].email, consent_to_ground_rules=True))
    assert "**Awaiting:** 3 answers, due by" in (await metadata(handle)).current_details  # after the update itself

    await handle.execute_update("pause", CoordinatorAction(coordinator=COORDINATOR))
    assert "3 answers, due when the program resumes" in (await metadata(handle)).current_details
    await handle.execute_update("resume", CoordinatorAction(coordinator=COORDINATOR))
    await handle.execute_update("close_recruitment", CoordinatorAction(coordinator=COORDINATOR))
    await skip(harness.env, timedelta(seconds=60))
    assert (await metadata(handle)).current_details.startswith("**Now:** training\n\n**Awaiting:** 1 answer")


def labels(history: WorkflowHistory) -> list[tuple[int, str]]:
    """Each event's summary and details as the UI would decode them (these tests' converter does not encrypt)."""
    found = []
    for event in history.events:
        meta = event.user_metadata
        for payload in [meta.summary] * meta.HasField("summary") + [meta.details] * meta.HasField("details"):
            found.append((event.event_id, DATA_CONVERTER.payload_converter.from_payload(payload, str)))
    return found


# The time-skipping server keeps no metadata on a child's initiated event (the dev server does, and the child's
# own started event carries it on both): tests/test_ui_story.py sees it on the program's page.
LABELLED = ("activity_task_scheduled_event_attributes", "timer_started_event_attributes")


async def test_every_activity_timer_and_child_is_labelled_with_nothing_personal(harness: Harness) -> None:
    people, program = roster(2), spec(durations={"program_length": "3w"})
    handle = await start_program(harness, program, people)
    await drive(harness, handle, personas_for(people))
    ids = [handle.id, *sorted({str(n["pairing_id"]) for n in harness.notices() if n["pairing_id"]})]
    histories = [await harness.client.get_workflow_handle(i).fetch_history() for i in ids]

    for history in histories:
        labelled = {event_id for event_id, _ in labels(history)}
        kept = [e.event_id for e in history.events if e.WhichOneof("attributes") in LABELLED]
        unlabelled = [event_id for event_id in kept if event_id not in labelled]
        assert unlabelled == [], history.workflow_id
        started = history.events[0]
        assert started.user_metadata.HasField("summary") and started.user_metadata.HasField("details")
    texts = [text for history in histories for _, text in labels(history)]
    assert len(texts) > 50
    assert [(w, t) for t in texts for w in personal_words(program) if w in t] == []
    assert any(t.startswith(f"Pairing pairing-digital-fluency-2026-junior00-senior00 of {handle.id}:") for t in texts)
    described = await harness.client.get_workflow_handle(handle.id).describe()
    assert await described.static_summary() == program_summary(handle.id, program, 4)
    await each_summary_is_on_the_list(harness, ids)


async def each_summary_is_on_the_list(harness: Harness, workflow_ids: list[str]) -> None:
    """The UI's list cannot read user metadata: each workflow's summary is in a search attribute too, verbatim."""
    for workflow_id in workflow_ids:
        described = await harness.client.get_workflow_handle(workflow_id).describe()
        summary = await described.static_summary()
        assert summary is not None and described.typed_search_attributes.get(search.SUMMARY) == summary
