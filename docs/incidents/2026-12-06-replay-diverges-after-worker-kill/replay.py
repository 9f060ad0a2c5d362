"""Replays the program history that fresh18's worker-kill test left behind, on today's code.

    PYTHONPATH=. .venv/bin/python docs/incidents/2026-12-06-replay-diverges-after-worker-kill/replay.py

Prints the replay failure (empty when today's code replays it).
"""

import asyncio
from pathlib import Path

from temporalio.client import WorkflowHistory

from adapters.codec import Keyring, data_converter
from tests.helpers.replaying import replay_failures

HERE = Path(__file__).parent


async def main() -> None:
    converter = data_converter(Keyring.parse((HERE / "codec.keys").read_text()))
    history = WorkflowHistory.from_json("program-crash-788a66", (HERE / "program-history.json").read_text())
    print(await replay_failures([("program-crash-788a66", history)], converter))


if __name__ == "__main__":
    asyncio.run(main())
