"""When a pair's meetings fall: inside both people's working hours, each in their own time zone.

Pure: time zones come in as `tzinfo` objects (the caller reads the zone database), so the rule gives the same
answer in a workflow, on replay and in a test.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple

from domain.people import WorkingHours

SLOT = timedelta(minutes=15)  # meetings start on a quarter hour (in UTC, so on one in every zone in use today)
# Working weeks repeat every seven days: a time that suits everyone, if there is one, comes within a week.
SEARCH = timedelta(days=7)
FRIDAY = 4

Window = tuple[datetime, datetime]  # in UTC


class Workday(NamedTuple):
    """One person's working hours in their own time zone, Monday to Friday."""

    zone: tzinfo
    hours: WorkingHours


def meeting_start(target: datetime, length: timedelta, people: Sequence[Workday]) -> datetime:
    """The first quarter hour on or after `target` (timezone-aware) at which a meeting of `length` lies inside
    every person's working hours on one of their weekdays, in UTC.

    When no such time comes within a week (their hours never overlap: Tokyo and New York, 09:00-17:00 each), the
    meeting goes where it reaches least far outside the hours of whichever person it suits worse; the first such
    quarter hour. Nobody is asked to meet in the middle of their night to spare the other an early start.
    """
    first = _on_a_slot(target)
    windows = [_windows(person, first - timedelta(days=1), first + SEARCH + timedelta(days=1)) for person in people]
    best, least = first, None
    for n in range(int(SEARCH / SLOT)):
        start = first + n * SLOT
        outside = max((_outside(own, start, start + length) for own in windows), default=timedelta(0))
        if outside == timedelta(0):
            return start
        if least is None or outside < least:
            best, least = start, outside
    return best


def _on_a_slot(moment: datetime) -> datetime:
    """`moment` in UTC, moved on to the next quarter hour unless it is on one."""
    utc = moment.astimezone(UTC)
    past = (utc - datetime(2000, 1, 1, tzinfo=UTC)) % SLOT
    return utc + (SLOT - past) % SLOT


def _windows(person: Workday, since: datetime, until: datetime) -> list[Window]:
    """The person's working hours on their weekdays between two moments, in UTC; an end at or before the start
    runs past midnight. Local times are taken as the zone's rules say on each date, so daylight saving holds."""
    zone, hours = person
    day, last = since.astimezone(zone).date(), until.astimezone(zone).date()
    windows = []
    while day <= last:
        if day.weekday() <= FRIDAY:
            ends_on = day if hours.end > hours.start else day + timedelta(days=1)
            opens = datetime.combine(day, hours.start, tzinfo=zone).astimezone(UTC)
            windows.append((opens, datetime.combine(ends_on, hours.end, tzinfo=zone).astimezone(UTC)))
        day += timedelta(days=1)
    return windows


def _outside(windows: Iterable[Window], start: datetime, end: datetime) -> timedelta:
    """How far a meeting reaches outside the nearest of the windows: zero when one holds it whole."""
    return min((max(opens - start, end - closes, timedelta(0)) for opens, closes in windows), default=SEARCH)
