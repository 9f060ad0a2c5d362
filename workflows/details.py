"""The Temporal UI's current details of a workflow, shown as it starts and brought up to date after every update
and signal.

An answer changes how many answers a workflow awaits; rather than a line in each of twenty handlers, this
interceptor asks the workflow to show its progress once a handler has run (`PromptingWorkflow.show_progress`);
the workflows themselves show it when their phase changes and each time they wait.
Setting the details issues no command, so histories replay the same with it or without it.
"""

from typing import Any

from temporalio import workflow
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)


def _show_progress() -> None:
    show = getattr(workflow.instance(), "show_progress", None)
    if callable(show):
        show()


class _Progress(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        _show_progress()  # a program's invitations are open from its first step (`_begin`)
        return await super().execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        await super().handle_signal(input)
        _show_progress()

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        reply = await super().handle_update_handler(input)
        _show_progress()
        return reply


class CurrentDetails(Interceptor):
    """The worker's interceptor that keeps each workflow's current details up to date (see the module's docstring)."""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _Progress
