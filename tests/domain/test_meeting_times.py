"""Where a pair's meetings go: inside both people's working hours, each in their own time zone, and working hours
as a roster column (issue 14, point 6). Pure: no server; the series a pairing sends, and cancels when it ends early,
is tested in tests/workflows/test_meeting_series.py.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.people import Participant, RosterError, WorkingHours, parse_roster
from domain.scheduling import Workday, meeting_start
from tests.helpers.meetings import LENGTH, within_office_hours
from tests.helpers.people import roster

OFFICE = WorkingHours()  # 09:00-17:00


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def at_work(zone: str, hours: WorkingHours = OFFICE) -> Workday:
    return Workday(ZoneInfo(zone), hours)


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
