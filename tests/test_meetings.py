"""A pair's calendar: meetings placed inside both people's working hours, and the series cancelled when the
pairing ends early (issue 14, point 6).

The placement rule is pure and tested without a server; the cancellation is tested on whole programs on the
time-skipping server, with each notice composed into the email a person receives and its .ics read back.
"""

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event
from pydantic import BaseModel

from adapters.email import compose
from demo.personas import Persona
from domain.answers import CoordinatorAction
from domain.metrics import PairingOutcome
from domain.notices import Meeting, Notice, NoticeKind, cancellation, meetings_cancelled
from domain.pairing import Pairing, PairingInput, PairingStage, new_pairing_state
from domain.people import Participant, RosterError, WorkingHours, parse_roster
from domain.scheduling import Workday, meeting_start
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, J1, S0, pairing_terms, roster, spec
from tests.helpers.programs import pairing_view, result, start_program
from tests.helpers.replaying import replay_failures
from tests.helpers.smtp import MAIL_FROM
from workflows.pairing import CANCEL_SERIES_AT_EARLY_END, MEETING_LENGTH

LENGTH = timedelta(minutes=45)
OFFICE = WorkingHours()  # 09:00-17:00


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def at_work(zone: str, hours: WorkingHours = OFFICE) -> Workday:
    return Workday(ZoneInfo(zone), hours)


def within_office_hours(start: datetime, zone: str, length: timedelta = LENGTH) -> bool:
    """Start and end on one weekday between 09:00 and 17:00 in the zone."""
    begins, ends = start.astimezone(ZoneInfo(zone)), (start + length).astimezone(ZoneInfo(zone))
    return (
        begins.weekday() < 5 and begins.date() == ends.date() and time(9) <= begins.time() and ends.time() <= time(17)
    )


# Where a meeting goes (pure, no server)

LONDON_NEW_YORK = [at_work("Europe/London"), at_work("America/New_York")]  # 14:00-17:00 UTC in winter


@pytest.mark.parametrize(
    ("target", "expected", "why"),
    [
        (utc(2026, 2, 3, 10), utc(2026, 2, 3, 14), "before New York starts work: when it does"),
        (utc(2026, 2, 3, 15, 10), utc(2026, 2, 3, 15, 15), "inside both: the next quarter hour"),
        (utc(2026, 2, 3, 16, 30), utc(2026, 2, 4, 14), "too late to finish before London stops: the next day"),
        (utc(2026, 2, 6, 16, 30), utc(2026, 2, 9, 14), "Friday too late: Monday, not the weekend"),
        (utc(2026, 2, 7, 15), utc(2026, 2, 9, 14), "a Saturday: Monday"),
    ],
)
def test_a_meeting_goes_at_the_first_quarter_hour_inside_both_peoples_working_hours(
    target: datetime, expected: datetime, why: str
) -> None:
    start = meeting_start(target, LENGTH, LONDON_NEW_YORK)

    assert start == expected, why
    assert within_office_hours(start, "Europe/London") and within_office_hours(start, "America/New_York")


def test_each_persons_weekday_is_their_own_across_the_date_line() -> None:
    """Auckland's Monday morning is Los Angeles' Sunday, and Los Angeles' Friday afternoon is Auckland's Saturday."""
    pair = [at_work("Pacific/Auckland"), at_work("America/Los_Angeles")]

    start = meeting_start(utc(2026, 2, 6, 18), LENGTH, pair)  # Friday 10:00 in Los Angeles, Saturday in Auckland

    assert start == utc(2026, 2, 9, 20)  # Monday 12:00 in Los Angeles, Tuesday 09:00 in Auckland
    assert within_office_hours(start, "Pacific/Auckland") and within_office_hours(start, "America/Los_Angeles")


def test_a_narrow_overlap_across_the_world_is_found() -> None:
    """Tokyo and Berlin in summer share one hour: 16:00-17:00 in Tokyo, 09:00-10:00 in Berlin."""
    start = meeting_start(utc(2026, 7, 7, 12), LENGTH, [at_work("Asia/Tokyo"), at_work("Europe/Berlin")])

    assert start == utc(2026, 7, 8, 7)
    assert within_office_hours(start, "Asia/Tokyo") and within_office_hours(start, "Europe/Berlin")


def test_hours_of_ones_own_and_a_night_shift_are_honoured() -> None:
    """A night shift (22:00-06:00, starting on a weekday) in London beside office hours in Tokyo."""
    nights = WorkingHours(start=time(22), end=time(6))
    pair = [at_work("Europe/London", nights), at_work("Asia/Tokyo")]

    start = meeting_start(utc(2026, 2, 2, 0), LENGTH, pair)  # Monday 09:00 in Tokyo; Sunday night in London

    assert start == utc(2026, 2, 3, 0)  # Monday night's shift in London, Tuesday 09:00 in Tokyo
    early = [at_work("Europe/London", WorkingHours(start=time(7), end=time(15))), at_work("America/New_York")]
    assert meeting_start(utc(2026, 2, 3, 10), LENGTH, early) == utc(2026, 2, 3, 14)  # 14:00-14:45 London, 09:00 NY
    assert meeting_start(utc(2026, 2, 3, 14, 30), LENGTH, early) == utc(2026, 2, 4, 14)  # would end past 15:00


def test_when_working_hours_never_overlap_the_meeting_reaches_least_far_outside_them() -> None:
    """Tokyo (00:00-08:00 UTC) and London (09:00-17:00 UTC in winter) never overlap. The fallback: the first
    quarter hour at which the person it suits worse is least far outside their hours; here an hour, at 17:00 in
    Tokyo and 08:00 in London, not the middle of either one's night."""
    start = meeting_start(utc(2026, 2, 3, 12), LENGTH, [at_work("Asia/Tokyo"), at_work("Europe/London")])

    assert start == utc(2026, 2, 4, 8)
    assert start.astimezone(ZoneInfo("Asia/Tokyo")).time() == time(17)
    assert start.astimezone(ZoneInfo("Europe/London")).time() == time(8)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (utc(2026, 3, 3, 12), utc(2026, 3, 3, 14)),  # both on winter time: New York is 5 hours behind
        (utc(2026, 3, 10, 12), utc(2026, 3, 10, 13)),  # New York on summer time (8 March), London not yet: 4
        (utc(2026, 3, 31, 12), utc(2026, 3, 31, 13)),  # both on summer time (London from 29 March): 5 again
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 30, 13)),  # the night London's clocks go forward: Monday
    ],
)
def test_daylight_saving_is_taken_as_each_zone_has_it_on_the_day(target: datetime, expected: datetime) -> None:
    start = meeting_start(target, LENGTH, LONDON_NEW_YORK)

    assert start == expected
    assert within_office_hours(start, "Europe/London") and within_office_hours(start, "America/New_York")


def test_any_target_gets_a_slot_within_a_week_inside_both_peoples_hours() -> None:
    for hour in range(0, 24 * 14, 5):  # two weeks of targets, every five hours, at odd minutes
        target = utc(2026, 3, 1) + timedelta(hours=hour, minutes=7 * hour % 60)
        start = meeting_start(target, LENGTH, LONDON_NEW_YORK)
        assert target <= start < target + timedelta(days=4), target
        assert within_office_hours(start, "Europe/London") and within_office_hours(start, "America/New_York")


# Working hours in the roster and in stored inputs

HEADER = "email,name,role,seniority,department,skills_offered,skills_wanted,interests,timezone,manager_email"


def test_working_hours_are_an_optional_roster_column_defaulting_to_nine_to_five() -> None:
    ana, bo = parse_roster(
        f"{HEADER},working_hours\n"
        "ana@example.com,Ana Lopez,mentor,1,eng,,,,Europe/London,,07:30-15:30\n"
        "bo@example.com,Bo Chen,mentee,6,sales,,,,America/New_York,,\n"
    )
    (old,) = parse_roster(f"{HEADER}\ncy@example.com,Cy Diaz,mentee,6,sales,,,,UTC,\n")

    assert ana.working_hours == WorkingHours(start=time(7, 30), end=time(15, 30))
    assert bo.working_hours == old.working_hours == WorkingHours(start=time(9), end=time(17))
    assert str(ana.working_hours) == "07:30-15:30"


def test_working_hours_that_cannot_be_read_are_reported_on_their_line() -> None:
    rows = ["9-5", "25:00-17:00", "09:00-09:00", "09:00 to 17:00"]
    text = f"{HEADER},working_hours\n" + "".join(
        f"p{i}@example.com,P {i},mentor,1,eng,,,,UTC,,{hours}\n" for i, hours in enumerate(rows)
    )

    with pytest.raises(RosterError) as error:
        parse_roster(text)

    problems = [(p.line, p.message.split(";")[0]) for p in error.value.problems]
    assert problems == [
        (2, "working_hours: '9-5' are not working hours"),
        (3, "working_hours: '25:00-17:00' is not a time of day"),
        (4, "working_hours: '09:00-09:00' start and end at the same time"),
        (5, "working_hours: '09:00 to 17:00' are not working hours"),
    ]
    assert all("write them like 09:00-17:00" in p.message for p in error.value.problems)


def test_a_participant_stored_before_working_hours_existed_still_decodes_with_the_default() -> None:
    stored = roster(1)[0].model_dump(mode="json")
    del stored["working_hours"]

    assert Participant.model_validate(stored).working_hours == OFFICE


# The cancel of a series (pure)

SERIES = Meeting(
    series="pairing-x@flipside",
    sequence=2,
    title="Reverse mentoring: Jun and Sen",
    starts_at=utc(2026, 2, 3, 14),
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
