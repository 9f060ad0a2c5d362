"""Watching the queries a client sends: how many of each, and whether the server turned one away."""

import asyncio
from collections import Counter
from typing import Any

from temporalio.client import Client, Interceptor, OutboundInterceptor, QueryWorkflowInput
from temporalio.service import RPCError


class QueriesSeen(Interceptor):
    """Counts a client's queries by name, and notes the first the server refused."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()
        self.refused = asyncio.Event()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Watching(next, self)


class _Watching(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, seen: QueriesSeen) -> None:
        super().__init__(next)
        self.seen = seen

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self.seen.names[input.query] += 1
        try:
            return await super().query_workflow(input)
        except RPCError:
            self.seen.refused.set()
            raise


def client_with(client: Client, *interceptors: Interceptor) -> Client:
    """The same connection, namespace and converter, with these interceptors only."""
    return Client(
        client.service_client,
        namespace=client.namespace,
        data_converter=client.data_converter,
        interceptors=interceptors,
    )
