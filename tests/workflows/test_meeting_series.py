"""A pair's meeting series, cancelled when the pairing ends early (issue 14, point 6): the rule on its own, then on
whole programs on the time-skipping server, with each notice composed into the email a person receives and its .ics
read back. Where the meetings go is tested in tests/domain/test_meeting_times.py.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar, Event
from pydantic import BaseModel

from adapters.email import compose
from demo.personas import Persona
from domain.answers import CoordinatorAction
from domain.metrics import PairingOutcome
from domain.notices import Meeting, Notice, NoticeKind, cancellation, meetings_cancelled
from domain.pairing import Pairing, PairingInput, PairingStage, new_pairing_state
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.meetings import LENGTH, within_office_hours
from tests.helpers.people import COORDINATOR, J0, J1, S0, pairing_terms, roster, spec
from tests.helpers.programs import pairing_view, result, start_program
from tests.helpers.replaying import replay_failures
from tests.helpers.smtp import MAIL_FROM
from workflows.pairing import CANCEL_SERIES_AT_EARLY_END, MEETING_LENGTH

# The cancel of a series (pure)

SERIES = Meeting(
    series="pairing-x@flipside",
    sequence=2,
    title="Reverse mentoring: Jun and Sen",
    starts_at=datetime(2026, 2, 3, 14, tzinfo=UTC),
    length=LENGTH,
    every=timedelta(weeks=1),
    occurrences=2,
    attendees=[J0, S0],
)


def ended(stage: PairingStage, outcome: PairingOutcome | None, sent: Meeting | None) -> Pairing:
    people = roster(1)
    inp = PairingInput(pairing_id="pairing-x", mentor=people[0], mentee=people[1], terms=pairing_terms("program-x"))
    state = new_pairing_state(inp)
    state.stage, state.summary.outcome, state.meeting = stage, outcome, sent
    return Pairing(inp, state)


def test_an_early_end_with_meetings_ahead_cancels_the_series_one_version_up() -> None:
    cancel = ended(PairingStage.MENTORING, PairingOutcome.WITHDRAWN, SERIES).series_to_cancel()

    assert cancel == cancellation(SERIES)
    assert cancel is not None and cancel.cancelled and cancel.sequence == SERIES.sequence + 1
    assert (cancel.series, cancel.attendees) == (SERIES.series, SERIES.attendees)


@pytest.mark.parametrize(
    ("stage", "outcome", "sent"),
    [
        (PairingStage.INTRODUCTION, PairingOutcome.DECLINED, None),  # no invitation ever went out
        (PairingStage.PLANNING, PairingOutcome.CANCELLED, None),
        (PairingStage.CLOSE_OUT, PairingOutcome.COMPLETED, SERIES),  # ran its course
        (PairingStage.CLOSE_OUT, PairingOutcome.WITHDRAWN, SERIES),  # every meeting already past
        (PairingStage.MENTORING, None, SERIES),  # still running
    ],
)
def test_nothing_is_cancelled_without_a_series_or_without_meetings_ahead(
    stage: PairingStage, outcome: PairingOutcome | None, sent: Meeting | None
) -> None:
    assert ended(stage, outcome, sent).series_to_cancel() is None


def test_the_cancellation_email_carries_method_cancel_the_series_uid_and_a_higher_sequence() -> None:
    subject, body = meetings_cancelled(SERIES, PairingOutcome.WITHDRAWN)
    notice = Notice(
        key="pairing-x/meetings-cancelled/senior00@example.com",
        to=S0,
        kind=NoticeKind.INFO,
        subject=subject,
        body=body,
        program_id="program-x",
        meeting=cancellation(SERIES),
    )

    calendar, event = ics_of(notice)

    assert (calendar["METHOD"], event["STATUS"]) == ("CANCEL", "CANCELLED")
    assert event.uid == SERIES.series and event.sequence > SERIES.sequence
    assert "stepped back" in body and subject == f"Cancelled: {SERIES.title}"


# On a whole program (time-skipping server)


def ics_of(notice: Notice) -> tuple[Calendar, Event]:
    """The calendar attached to the email a notice becomes, as the dispatcher composes it."""
    message = compose(notice, "http://portal.test/signin?token=t", MAIL_FROM)
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(part.get_content())
    assert calendar["METHOD"] == part.get_param("method")
    (event,) = calendar.events
    return calendar, event


class Sent(BaseModel):
    invitations: list[Notice]
    cancels: list[Notice]


def calendar_notices(harness: Harness, pairing_id: str) -> Sent:
    rows: list[dict[str, Any]] = [n for n in harness.notices() if n["pairing_id"] == pairing_id and n["meeting"]]
    notices = [Notice.model_validate(row) for row in rows]
    return Sent(
        invitations=[n for n in notices if n.meeting and not n.meeting.cancelled],
        cancels=[n for n in notices if n.meeting and n.meeting.cancelled],
    )


def the_pairing(harness: Harness, *people: str) -> str:
    (pairing_id,) = {
        str(n["pairing_id"]) for n in harness.notices() if n["pairing_id"] and all(p in n["pairing_id"] for p in people)
    }
    return pairing_id


def assert_series_cancelled(sent: Sent, people: set[str]) -> Event:
    """Every invitation was a REQUEST of one series; each person invited got one cancel of it, of a higher
    SEQUENCE than any invitation, with STATUS:CANCELLED. Returns the cancel's event."""
    requests = [ics_of(n) for n in sent.invitations]
    assert {n.to for n in sent.invitations} == people and {c["METHOD"] for c, _ in requests} == {"REQUEST"}
    (uid,) = {e.uid for _, e in requests}
    assert sorted(n.to for n in sent.cancels) == sorted(people)
    for notice in sent.cancels:
        calendar, event = ics_of(notice)
        assert (calendar["METHOD"], event["STATUS"]) == ("CANCEL", "CANCELLED")
        assert event.uid == uid
        assert event.sequence > max(e.sequence for _, e in requests)
    return event


async def test_a_withdrawal_while_mentoring_cancels_the_series_for_both_people(harness: Harness) -> None:
    people = roster(1)  # junior00 in London, senior00 in New York, both 09:00-17:00
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    await drive(harness, handle, personas_for(people, junior00=Persona(J0, withdraw_at_cycle=2)))
    await result(handle)
    pairing_id = the_pairing(harness, "junior00")

    sent = calendar_notices(harness, pairing_id)

    assert sorted(n.meeting.sequence for n in sent.invitations if n.meeting) == [1, 1, 2, 2]
    assert_series_cancelled(sent, {J0, S0})
    (cancel,) = [n for n in sent.cancels if n.to == S0]
    assert "stepped back" in cancel.body and cancel.subject.startswith("Cancelled: Reverse mentoring")
    # Each invitation's meetings start inside both people's working hours, in their own time zones
    for notice in sent.invitations:
        assert notice.meeting is not None and notice.meeting.length == MEETING_LENGTH
        starts = notice.meeting.starts_at
        assert within_office_hours(starts, "Europe/London") and within_office_hours(starts, "America/New_York")
    history = await harness.client.get_workflow_handle(pairing_id).fetch_history()
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert any(CANCEL_SERIES_AT_EARLY_END.encode() in e.SerializeToString() for e in markers)
    assert await replay_failures([(pairing_id, history)]) == {}


async def test_a_program_cancelled_while_mentoring_cancels_each_pairs_series(harness: Harness) -> None:
    people = roster(1)
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    pairing_id = ""

    async def first_check_in_sent() -> bool:
        nonlocal pairing_id
        opened = [n for n in harness.notices() if n["meeting"]]
        pairing_id = str(opened[0]["pairing_id"]) if opened else ""
        return bool(opened)

    await drive(harness, handle, personas_for(people), until_true=first_check_in_sent)
    await handle.execute_update(
        "cancel", CoordinatorAction(coordinator=COORDINATOR, reason="budget cut"), result_type=str
    )
    assert (await result(handle)).cancelled
    pairing = harness.client.get_workflow_handle(pairing_id)
    await pairing.result()  # the program does not wait for its pairings to close

    sent = calendar_notices(harness, pairing_id)
    assert_series_cancelled(sent, {J0, S0})
    assert all("the program has closed the pairing" in n.body for n in sent.cancels)
    assert (await pairing_view(pairing)).outcome == PairingOutcome.CANCELLED


async def test_a_pairing_that_ends_before_its_first_check_in_sends_nothing_calendar_wise(harness: Harness) -> None:
    """junior00 declines senior00 (and junior01 senior01): no series was ever sent, so none is cancelled; the
    rematches run their course and their series are never cancelled either."""
    people = roster(2)
    handle = await start_program(harness, spec(durations={"program_length": "3w"}), people)
    declining = {"junior00": Persona(J0, decline_match=True), "junior01": Persona(J1, decline_match=True)}
    await drive(harness, handle, personas_for(people, **declining))
    await result(handle)

    declined = calendar_notices(harness, the_pairing(harness, "junior00", "senior00"))
    assert declined.invitations == [] and declined.cancels == []
    assert not [n for n in harness.notices() if "meetings-cancelled" in n["key"]]
    completed = calendar_notices(harness, the_pairing(harness, "junior00", "senior01"))
    assert len(completed.invitations) >= 4 and completed.cancels == []
