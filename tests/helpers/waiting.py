"""Waiting for what real time, another process or a workflow's next step brings: poll, with a bound.

The bound only stops a test that can never get there; it is never a measure of pass or fail. On the time-skipping
server, move time instead (`env.sleep`, tests.helpers.driving.drive): nothing there comes by waiting.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
Check = Callable[[], bool | Awaitable[bool]]
Probe = Callable[[], T | Awaitable[T | None] | None]


async def eventually(condition: Check, what: str = "the condition", attempts: int = 600, every: float = 0.05) -> None:
    """Poll until `condition()` holds (it may be a coroutine function); by default about 30 s and more."""
    for _ in range(attempts):
        if await _value(condition()):
            return
        await asyncio.sleep(every)
    raise AssertionError(f"never reached: {what}")


async def found(probe: Probe[T], what: str, attempts: int = 600, every: float = 0.05) -> T:
    """Poll until `probe()` finds something (anything but None), and return it."""
    for _ in range(attempts):
        value = await _value(probe())
        if value is not None:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"never found: {what}")


async def _value(result: T | Awaitable[T]) -> T:
    if inspect.isawaitable(result):
        return await result
    return result
