"""Meetings as people see them: where they fall in a working day of their own time zone."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

LENGTH = timedelta(minutes=45)  # a meeting, as workflows.pairing.MEETING_LENGTH sets it


def within_office_hours(start: datetime, zone: str, length: timedelta = LENGTH) -> bool:
    """Start and end on one weekday between 09:00 and 17:00 in the zone."""
    begins, ends = start.astimezone(ZoneInfo(zone)), (start + length).astimezone(ZoneInfo(zone))
    return (
        begins.weekday() < 5 and begins.date() == ends.date() and time(9) <= begins.time() and ends.time() <= time(17)
    )
