"""Waiting for what real time, another process or a workflow's next step brings: poll, with a bound.

The bound only stops a test that can never get there; it is never a measure of pass or fail. On the time-skipping
server, move time instead (`skip`, tests.helpers.driving.drive): nothing there comes by waiting.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio.api.testservice.v1 import SleepRequest
from temporalio.testing import WorkflowEnvironment

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


SKIP_LIMIT = timedelta(minutes=3)  # real time a skip may take; only a server that never gets there meets it


async def skip(env: WorkflowEnvironment, step: timedelta) -> None:
    """Move the time-skipping server's clock on by `step`, as `env.sleep` does, with room to do so.

    The server moves time only while no task or activity runs, so a step over a program's day waits for the
    worker's real work on the way; under the suite's load that took longer than the call's default deadline
    ("Timeout expired", fresh24), although nothing was stuck."""
    request = SleepRequest()
    request.duration.FromTimedelta(step)
    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_LIMIT)
