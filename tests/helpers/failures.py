"""Failures a test puts into a worker, shared with the recorder of histories (tests/histories/record.py)."""

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor


class MatchingFails(Interceptor):
    """The solver fails on the program's input, as tests/workflows/test_failure_modes.py shows it can (a solver that
    fails on its input is not retried and says why)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        class Failing(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> Any:
                if activity.info().activity_type == "propose_matches":
                    message = "the scores are too large to compare exactly; lower the matching weights"
                    raise ApplicationError(message, type="MatchingFailed", non_retryable=True)
                return await super().execute_activity(input)

        return Failing(next)
