"""The suite's own isolation: one failed or stuck test never fails another.

These prove the machinery in tests/conftest.py and tests/helpers/servers.py on the real failure it guards against: a
workflow that closes with an activity in flight stops the time-skipping server's clock for good
(temporalio/sdk-java#1138), and every later test that waits on a timer there would hang.
"""

import asyncio
import textwrap
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.answers import OptIn
from tests.helpers import ROOT
from tests.helpers.harness import Harness, end_workflows
from tests.helpers.people import J0, roster, spec
from tests.helpers.programs import start_program
from tests.helpers.servers import Canary, CheckedServer, ServerReplaced, start_time_skipping

pytest_plugins = ["pytester"]
DAY = 24 * 3600.0


@activity.defn
async def wait_for_release() -> None:
    await activity.wait_for_cancelled()  # never: nobody cancels it, and it never heartbeats


@workflow.defn(sandboxed=False)
class HoldsAnActivity:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(wait_for_release, start_to_close_timeout=timedelta(hours=1))


async def stall(client: Client) -> None:
    """Stop a time-skipping server's clock the way a careless test does: terminate a run mid-activity."""
    queue = f"stall-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[HoldsAnActivity], activities=[wait_for_release]):
        handle = await client.start_workflow(HoldsAnActivity.run, id=f"stall-{uuid.uuid4()}", task_queue=queue)
        while not (await handle.describe()).raw_description.pending_activities:
            await asyncio.sleep(0.02)
        await handle.terminate("left behind by a careless test")


async def wakes(environment: WorkflowEnvironment, after: float, limit: float = 10) -> bool:
    """Whether a workflow sleeping `after` seconds completes within `limit` seconds of real time."""
    queue = f"sleep-{uuid.uuid4()}"
    async with Worker(environment.client, task_queue=queue, workflows=[Canary]):
        try:
            async with asyncio.timeout(limit):
                await environment.client.execute_workflow(Canary.run, after, id=f"s-{uuid.uuid4()}", task_queue=queue)
            return True
        except TimeoutError:
            return False


async def a_day_passes(environment: WorkflowEnvironment, limit: float = 10) -> bool:
    """On a time-skipping server: whether its clock still moves."""
    return await wakes(environment, DAY, limit)


@pytest.mark.slow
async def test_a_server_left_stuck_is_replaced_before_the_next_test_uses_it() -> None:
    server = CheckedServer("time-skipping server", start_time_skipping, canary_sleep=DAY)
    try:
        first = await server.healthy("test one")
        assert await a_day_passes(first)
        await stall(first.client)
        assert not await a_day_passes(first, limit=3)  # the bug is real: this server's clock has stopped

        with pytest.warns(ServerReplaced, match="stopped answering after test one; test two got a new one"):
            second = await server.healthy("test two")

        assert second is not first and server.replaced == 1
        assert await a_day_passes(second)
        assert await server.healthy("test three") is second  # a healthy server is kept
    finally:
        await server.stop()


async def test_ending_a_test_cancels_what_it_left_running_on_the_shared_server(dev_harness: Harness) -> None:
    handle = await start_program(dev_harness, spec(), roster(1))
    await handle.execute_update("opt_in", OptIn(participant=J0, consent_to_ground_rules=True), result_type=str)

    await end_workflows(dev_harness.client, [handle.id, "pairing-never-started"])

    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED  # not terminated
    assert await wakes(dev_harness.env, after=0.01)  # and the server goes on serving the tests after it


INNER_TESTS = """
import asyncio
from datetime import timedelta

import pytest

from tests.integration.test_isolation import a_day_passes, stall


@pytest.mark.timeout(62)  # 62 s hard stop: the async limit is a minute less, 2 s
async def test_1_hangs(env):
    await stall(env.client)
    await asyncio.Event().wait()  # waits for ever, as a test on a stopped clock would


async def test_2_fails_after_stalling_its_server(env):
    await stall(env.client)
    assert False, "failed on purpose"


async def test_3_finds_a_server_whose_clock_runs(env):
    assert await a_day_passes(env)
"""


@pytest.mark.slow
def test_a_hanging_or_failing_test_takes_no_other_test_down(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole pytest session of its own, with this suite's conftest: a test that hangs is stopped at its limit
    with every task's stack printed, and neither it nor a failing one affects the test after them."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the session runs elsewhere
    pytester.makeconftest('pytest_plugins = ["tests.conftest"]')
    pytester.makepyfile(test_inner=textwrap.dedent(INNER_TESTS))
    options = ("asyncio_mode=auto", "asyncio_default_fixture_loop_scope=session", "timeout=300")
    overrides = [arg for option in options for arg in ("-o", option)]
    overrides += ["-o", "asyncio_default_test_loop_scope=session", "-p", "no:cacheprovider"]
    outcome = pytester.runpytest_subprocess(*overrides, "-p", "pytest_asyncio", "-v", timeout=240)

    outcome.assert_outcomes(passed=1, failed=2)
    printed = outcome.stdout.str()
    assert "test_1_hangs ran past its limit of 2 s; every asyncio task:" in printed
    assert "in test_1_hangs" in printed  # the hanging test's own stack, among every task's
    assert "failed on purpose" in printed
    assert "test_inner.py::test_3_finds_a_server_whose_clock_runs PASSED" in printed
