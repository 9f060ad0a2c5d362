"""Matching runs as an activity, in a process of its own.

The solver is CPU-bound and, for minutes at a time on a large cohort, holds the GIL in long native calls: run on
the worker's threads it stalled every workflow of that worker past the SDK's 2-second deadlock limit (about 3 s
at 10,000 people with 15% `either`). So the activity only waits on the event loop, heartbeating, while one
spawned process per worker process solves (bench/matching_stall.py measures both ways).

A solver that raises has failed on this input and would fail again: the activity reports it as a non-retryable
`MatchingFailed` with the solver's sentence, for the program to tell the coordinators. A lost solver process
(killed, out of memory) is retried on a fresh one.
"""

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messages import Failure, MatchRequest
from adapters.store.pages import PageShelf
from domain.matching import MatchProposal, propose_matches
from domain.people import Participant
from domain.program import Member

log = structlog.get_logger()
HEARTBEAT_EVERY = 5.0  # seconds; the call's heartbeat timeout is a few of these
PARENT_CHECK_EVERY = 1.0  # seconds between the solver's checks that its worker is still there

_pool: ProcessPoolExecutor | None = None


def solver_pool() -> ProcessPoolExecutor:
    """The process that solves, one per worker process, started on first use and kept for the next match."""
    global _pool
    if _pool is None:
        # Spawned, not forked: a fork of a process running the SDK's threads can inherit a held lock.
        _pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
    return _pool


def _exit_with_parent(parent: int) -> None:
    """In the solver process: end when the worker does. A worker that is killed, or ends by `exit_with` (which
    skips teardown), never shuts its pool down, and the solver would wait on its queue for ever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_EVERY)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _discard_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
    _pool = None


class MatchingActivities:
    def __init__(self, shelf: PageShelf | None = None) -> None:
        self.shelf = shelf  # where a large pool's pages are; a worker without one takes only pools inline

    @activity.defn(name="propose_matches")
    async def propose_matches(self, request: MatchRequest) -> MatchProposal:
        people = request.people or await asyncio.to_thread(self._pool, request)
        solving = asyncio.get_running_loop().run_in_executor(
            solver_pool(), propose_matches, people, request.mode, request.context
        )
        while not solving.done():
            activity.heartbeat(f"matching {len(people)} people")
            await asyncio.wait([solving], timeout=HEARTBEAT_EVERY)
        try:
            proposal = solving.result()
        except BrokenProcessPool as error:
            _discard_pool()
            raise ApplicationError("the matching process was lost; trying again on a fresh one") from error
        except Exception as error:
            log.warning("matching failed", program_id=request.program_id, error=type(error).__name__)
            raise ApplicationError(str(error), type=Failure.MATCHING_FAILED, non_retryable=True) from error
        pairs, unmatched = len(proposal.pairs), len(proposal.unmatched)
        log.info(
            "matches proposed", program_id=request.program_id, people=len(people), pairs=pairs, unmatched=unmatched
        )
        return proposal

    def _pool(self, request: MatchRequest) -> list[Participant]:
        """A pool stored in pages (MatchRequest.people_ref), read from the record."""
        ref = request.people_ref
        if ref is None:
            return []
        assert self.shelf is not None, "this worker has no record to read a pool's pages from"
        return [Member.model_validate(m).person for page in range(ref.pages) for m in self.shelf.get(ref, page)]
