"""How long a large match stalls the other threads of its worker process: solved on a thread (as the activity
did until it moved to a process of its own) and through activities.matching (a spawned solver process).

    python -m bench.matching_stall [--sizes 2000 3000] [--either 0.15]

A ticker thread sleeps 10 ms at a time and records the longest gap between its wake-ups while the match runs:
the time a workflow activation on that worker could not run. The SDK fails an activation that takes more than
2 seconds ("potential deadlock"). Figures go to bench/results/matching-stall.md.
"""

import argparse
import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.matching import MatchingActivities
from activities.messages import MatchRequest
from bench.matching import synthetic_cohort
from domain.matching import MatchContext, propose_matches
from domain.people import Participant
from domain.spec import MatchingMode

RESULTS = Path(__file__).parent / "results" / "matching-stall.md"


def longest_stall(work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(wall seconds of `work`, the longest gap a 10 ms ticker thread saw meanwhile)."""
    gaps = [0.0]
    done = threading.Event()

    def tick() -> None:
        last = time.monotonic()
        while not done.is_set():
            time.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last - 0.01)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    started = time.monotonic()
    asyncio.run(_awaited(work))
    wall = time.monotonic() - started
    done.set()
    ticker.join()
    return wall, max(gaps)


async def _awaited(work: Callable[[], Awaitable[object]]) -> None:
    await work()


def solvers(people: list[Participant]) -> dict[str, Callable[[], Awaitable[object]]]:
    """The two ways a worker has solved a match, each a coroutine function."""
    request = MatchRequest(program_id="bench", people=people, mode=MatchingMode.ALGORITHM, context=MatchContext())

    async def on_a_thread() -> object:
        return await asyncio.to_thread(propose_matches, people, MatchingMode.ALGORITHM, MatchContext())

    async def in_its_own_process() -> object:
        return await ActivityEnvironment().run(MatchingActivities().propose_matches, request)

    return {"a thread of the worker (before)": on_a_thread, "its own process (now)": in_its_own_process}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 3000])
    parser.add_argument("--either", type=float, default=0.15)
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        for how, work in solvers(synthetic_cohort(size, either_share=args.either)).items():
            wall, stall = longest_stall(work)
            rows.append(f"| {size:,} | {args.either:.0%} | {how} | {wall:.1f} | {stall:.2f} |")
            print(rows[-1], flush=True)
    header = "| people | either | solved on | wall s | longest stall s |\n|---:|---:|---|---:|---:|\n"
    RESULTS.write_text(
        f"# Matching stall ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python -m bench.matching_stall`)\n\n"
        "The longest time another thread of the worker process could not run while one match was solved; the SDK\n"
        "fails a workflow activation that takes longer than 2 s.\n\n" + header + "\n".join(rows) + "\n"
    )


if __name__ == "__main__":
    main()
