"""Durations written the way people write them: "30d", "2w", "1h30m", "90s"."""

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

from domain.people import quoted

_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_WHOLE = re.compile(r"^(?:\d+[wdhms])+$")
_PART = re.compile(r"(\d+)([wdhms])")
_MAX_DIGITS = 15


def parse_duration(text: str) -> timedelta:
    """Parse "2w", "3d12h" or "90s"; raise ValueError with an example of the format otherwise."""
    compact = text.strip().lower().replace(" ", "")
    if not _WHOLE.match(compact):
        raise ValueError(f"{quoted(text)} is not a duration; write it like '30d', '2w', '1h30m' or '90s'")
    parts = _PART.findall(compact)
    # timedelta stops at 999,999,999 days and int() at 4,300 digits: both would escape as Python's own errors.
    if any(len(n) > _MAX_DIGITS for n, _ in parts):
        raise ValueError(f"{quoted(text)} is longer than any program could run")
    try:
        return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[unit] for n, unit in parts))
    except OverflowError:
        raise ValueError(f"{quoted(text)} is longer than any program could run") from None


def format_duration(value: timedelta) -> str:
    """The exact spelling with the largest units first, e.g. 1209600 s -> "2w", 5400 s -> "1h30m", 30d -> "4w2d"."""
    remaining = int(value.total_seconds())
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _coerce(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("write a duration as text, like '30d', '2w' or '90s'")


Duration = Annotated[timedelta, BeforeValidator(_coerce), PlainSerializer(format_duration, return_type=str)]
"""A timedelta that reads and writes as "2w"; what plans and workflow payloads use (zero allowed)."""


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("a duration must be longer than zero")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""What a spec's durations are: a zero-length phase or window is a mistake in the spec."""


# The meeting cadences a plan may choose from, within the program's shortest and longest.
_CADENCES = [timedelta(days=d) for d in (1, 2, 3, 4, 5, 7, 10, 14, 21, 28, 42, 56)]


def cadence_choices(shortest: timedelta, longest: timedelta, default: timedelta) -> list[timedelta]:
    """The cadences offered when a pair plans how often to meet: the usual ones in range, and the default."""
    return sorted({c for c in _CADENCES if shortest <= c <= longest} | {default})


def cadence_label(every: timedelta) -> str:
    """How often, as a person says it: "every week", "every 2 weeks", "every 10 days"."""
    days = every / timedelta(days=1)
    if every == timedelta(days=7):
        return "every week"
    if days.is_integer() and int(days) % 7 == 0:
        return f"every {int(days) // 7} weeks"
    if days.is_integer():
        return "every day" if days == 1 else f"every {int(days)} days"
    return f"every {format_duration(every)}"
