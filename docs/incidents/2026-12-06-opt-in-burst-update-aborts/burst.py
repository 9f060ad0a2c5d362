"""200 opt-ins sent at once to one program through the gateway: no portal, no queries during the burst.

    PYTHONPATH=. .venv/bin/python docs/incidents/2026-12-06-opt-in-burst-update-aborts/burst.py 200

A dev server (its errors on stdout: count "workflow update was aborted"), a worker process as the portal bench runs
it, a program of N people; once everyone's opt-in prompt is open, every opt-in is sent at once.
"""

import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import bench.portal as bp
from bootstrap import connect
from domain.prompts import PendingPrompt, PromptKind
from flipside_client import build_answer, prompts_for, send_answer
from settings import Settings
from starter import start_program
from workflows import search


async def _opt_in_prompt(client: Client, program_id: str, email: str) -> PendingPrompt:
    while True:
        found = [p for p in await prompts_for(client, program_id, email) if p.kind == PromptKind.OPT_IN]
        if found:
            return found[0]
        await asyncio.sleep(0.5)


async def main(n: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="burst-"))
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=bp._binary("temporal"), search_attributes=search.ALL, dev_server_log_level="error"
    ) as env:
        address = env.client.service_client.config.target_host
        settings = Settings(
            temporal_address=address, task_queue="burst", data_dir=data_dir, notify="file",
            portal_url="http://127.0.0.1:9", secret_key=bp.SECRET, log_format="json",
        )  # fmt: skip
        settings.codec_keyring()
        environ = {
            **os.environ,
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_TASK_QUEUE": "burst",
            "FLIPSIDE_DATA_DIR": str(data_dir),
            "FLIPSIDE_NOTIFY": "file",
            "FLIPSIDE_PORTAL_URL": settings.portal_url,
            "FLIPSIDE_SECRET_KEY": bp.SECRET,
            "FLIPSIDE_LOG_FORMAT": "json",
        }
        logs = data_dir / "logs"
        logs.mkdir()
        with bp.process("worker", ["worker.py"], environ, logs):
            client = await connect(settings)
            everyone = bp.roster(n)
            spec = bp.program_spec(30, 1, 45, datetime.now(UTC).strftime("%H%M%S"))
            program_id = await start_program(client, settings, spec, everyone)
            pending = {p.email: await _opt_in_prompt(client, program_id, p.email) for p in everyone}
            took: list[float] = []

            async def opt_in(email: str, prompt: PendingPrompt) -> None:
                start = time.perf_counter()
                await send_answer(client, prompt, build_answer(prompt, email, {"consent_to_ground_rules": True}))
                took.append(time.perf_counter() - start)

            began = time.perf_counter()
            results = await asyncio.gather(*(opt_in(e, p) for e, p in pending.items()), return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            took.sort()
            print(f"{n} opt-ins: {len(took)} taken, {len(errors)} failed, in {time.perf_counter() - began:.1f} s")
            if took:
                print(f"round trip p50 {took[len(took) // 2]:.2f} s, max {took[-1]:.2f} s")
            if errors:
                print(f"first failure: {errors[0]!r}")
            print("worker 'Task not found':", (logs / "worker.log").read_text().count("Task not found"))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
