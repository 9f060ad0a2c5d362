"""Runs tests/integration/test_task_time.py's sequence N times on one dev server and counts the runs whose
recorded decision was taken at another task's time (the guard's hole of 2026-12-06, README.md).

    PYTHONPATH=. .venv/bin/python docs/incidents/2026-12-06-replay-diverges-after-worker-kill/restarts.py 20
"""

import asyncio
import sys
from datetime import timedelta

from temporalio.client import Client

from bootstrap import PatientQueries
from tests.helpers.servers import start_dev_server
from tests.integration import test_task_time as sequence


async def main(runs: int) -> None:
    env = await start_dev_server()
    try:
        client = Client(env.client.service_client, namespace=env.client.namespace, interceptors=[PatientQueries(30)])
        wrong = 0
        for n in range(runs):
            handle = await sequence._through_a_restart_with_queries_waiting(client)
            seen, started = sequence._seen_and_task_started(await handle.fetch_history())
            off = abs(seen - started) >= timedelta(milliseconds=1)
            wrong += off
            print(f"run {n}: decided at {seen}, recorded under a task started at {started}{' WRONG' if off else ''}")
        print(f"{wrong} of {runs} runs recorded a decision taken at another task's time")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
