"""People's working days for workflow code: the time zone named in each person's record, read from the zone
database here, in a module the workflows import passed through. (A ZoneInfo made inside the sandbox is a
restricted proxy that datetime refuses as a tzinfo.)"""

from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

from domain.people import Participant
from domain.scheduling import Workday


def workday(person: Participant) -> Workday:
    return Workday(zone_named(person.timezone), person.working_hours)


def zone_named(name: str) -> tzinfo:
    """The zone of that name; one this worker's zone database does not know counts as UTC (rosters are checked
    against it, but a participant added another way is not)."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return UTC
