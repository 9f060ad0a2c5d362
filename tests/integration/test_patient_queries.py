"""A query the server turns away because no worker polled lately is asked again, not failed (bootstrap.py).

Seen in CI: under load a pairing's worker went more than 20 seconds without polling its task queue, and a query
failed with "no poller seen for task queue recently, worker may be down" although the worker was alive.
"""

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bootstrap import PatientQueries
from tests.helpers.queries import QueriesSeen, client_with

POLLER_WINDOW = 20.0  # the server's QueryPollerUnavailableWindow: queries fail once no poll is this old
ASK_LIMIT = timedelta(seconds=3)  # each ask's deadline, so a refusal comes in seconds


@workflow.defn(sandboxed=False)
class Waiting:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.query
    def answer(self) -> str:
        return "here"


async def a_workflow_whose_worker_went_away(env: WorkflowEnvironment, queue: str) -> str:
    async with Worker(env.client, task_queue=queue, workflows=[Waiting]):
        handle = await env.client.start_workflow(Waiting.run, id=f"waiting-{uuid.uuid4()}", task_queue=queue)
        assert await handle.query(Waiting.answer) == "here"
    await asyncio.sleep(POLLER_WINDOW + 1)
    return handle.id


async def test_a_query_asked_while_no_worker_polls_is_answered_once_one_does(dev_env: WorkflowEnvironment) -> None:
    queue = f"patient-{uuid.uuid4()}"
    workflow_id = await a_workflow_whose_worker_went_away(dev_env, queue)

    with pytest.raises(RPCError) as refused:
        await client_with(dev_env.client).get_workflow_handle(workflow_id).query(Waiting.answer, rpc_timeout=ASK_LIMIT)
    assert refused.value.status == RPCStatusCode.FAILED_PRECONDITION
    with pytest.raises(RPCError):  # patience has an end: a worker that never comes back is an error in the end
        await (
            client_with(dev_env.client, PatientQueries(patience=1.0))
            .get_workflow_handle(workflow_id)
            .query(Waiting.answer, rpc_timeout=ASK_LIMIT)
        )

    asks = QueriesSeen()
    patient = client_with(dev_env.client, PatientQueries(), asks).get_workflow_handle(workflow_id)
    answer = asyncio.create_task(patient.query(Waiting.answer, rpc_timeout=ASK_LIMIT))
    await asks.refused.wait()  # the first ask was turned away; only now does a worker come back
    async with Worker(dev_env.client, task_queue=queue, workflows=[Waiting]):
        assert await answer == "here"
