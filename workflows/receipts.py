"""Requests taken once across runs: an update re-sent with the id it was first sent with is answered again with
the first reply, and changes nothing, even when a continue-as-new came in between (Temporal deduplicates update
ids within one run only). Every Flipside workflow keeps its receipts in `WorkflowCore.receipts`, carried to the
next run with the rest of its state.
"""

from typing import Any

from temporalio import workflow
from temporalio.worker import (
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

with workflow.unsafe.imports_passed_through():
    from domain.core import WorkflowCore


def _core() -> WorkflowCore | None:
    core = getattr(workflow.instance(), "core", None)
    return core if isinstance(core, WorkflowCore) else None


class _Receipts(WorkflowInboundInterceptor):
    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        core = _core()
        if core is not None and core.receipt(input.id) is not None:
            return  # taken before: its prompt may be closed now, which must not refuse the re-send
        super().handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        core = _core()
        if core is None:
            return await super().handle_update_handler(input)
        earlier = core.receipt(input.id)
        if earlier is not None:
            return earlier
        reply = await super().handle_update_handler(input)
        if isinstance(reply, str):
            core.keep_receipt(input.id, reply)
        return reply


class AnswerReceipts(Interceptor):
    """The worker's interceptor that keeps and honours receipts (see the module's docstring)."""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _Receipts
