"""Durations written the way people write them: "30d", "2w", "1h30m", "90s"."""

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_WHOLE = re.compile(r"^(?:\d+[wdhms])+$")
_PART = re.compile(r"(\d+)([wdhms])")


def parse_duration(text: str) -> timedelta:
    """Parse "2w", "3d12h" or "90s"; raise ValueError with an example of the format otherwise."""
    compact = text.strip().lower().replace(" ", "")
    if not _WHOLE.match(compact):
        raise ValueError(f"{text!r} is not a duration; write it like '30d', '2w', '1h30m' or '90s'")
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(compact)))


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
