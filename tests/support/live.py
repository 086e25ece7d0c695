"""A real GraphQL subscription client (the `gql` package over graphql-transport-ws)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from tests.contract.operations import operation

LIVE = "member-app/live.graphql"


@contextlib.asynccontextmanager
async def listening(
    ws_url: str,
    token: str,
    name: str = "OnBalanceChanged",
    variables: dict[str, Any] | None = None,
    text: str | None = None,
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """Subscribe as a member (the contract operation `name`, or `text`); results arrive on the
    queue until the block ends."""
    transport = WebsocketsTransport(
        url=ws_url,
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with Client(transport=transport) as session:
        request = GraphQLRequest(text or operation(LIVE, name), variable_values=variables)

        async def pump() -> None:
            async for result in session.subscribe(request):
                await received.put(result)

        task = asyncio.create_task(pump())
        # Give the server a moment to start listening before the test makes changes.
        await asyncio.sleep(0.3)
        try:
            yield received
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
