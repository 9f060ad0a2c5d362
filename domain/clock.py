"""Active time: the clock of a program that a coordinator can pause.

Deadlines are kept as offsets on this clock, not as wall-clock dates, so a pause moves every deadline by the
length of the pause without rewriting any of them.
"""

from datetime import datetime, timedelta

from pydantic import BaseModel


class ActiveClock(BaseModel):
    elapsed_before: timedelta = timedelta(0)
    running_since: datetime | None = None
    # The latest offset a timer on this clock fired for: active time never reads below it. A workflow task has
    # been seen to carry the time of the task before it (after a worker or server restart, with queries coming
    # in), and a decision taken on that time was not the one a replay takes (the cause, and the worker's guard
    # against it: workflows/task_time.py). A timer's firing is in the history, so what follows from it replays the
    # same.
    reached: timedelta = timedelta(0)

    @classmethod
    def started(cls, now: datetime) -> "ActiveClock":
        return cls(running_since=now)

    @property
    def paused(self) -> bool:
        return self.running_since is None

    def elapsed(self, now: datetime) -> timedelta:
        if self.running_since is None:
            return max(self.elapsed_before, self.reached)
        return max(self.elapsed_before + (now - self.running_since), self.reached)

    def reach(self, offset: timedelta) -> None:
        """A timer set for `offset` has fired: the clock is there at least, whatever the task's time says."""
        self.reached = max(self.reached, offset)

    def pause(self, now: datetime) -> None:
        if self.running_since is not None:
            self.elapsed_before = self.elapsed(now)
            self.running_since = None

    def resume(self, now: datetime) -> None:
        if self.running_since is None:
            self.running_since = now

    def wall_time(self, offset: timedelta, now: datetime) -> datetime | None:
        """When an offset falls on the wall clock if nobody pauses; None while paused."""
        if self.running_since is None:
            return None
        return now + (offset - self.elapsed(now))
