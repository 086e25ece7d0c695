"""Live updates across processes through Redis, and through a Redis outage."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from datetime import UTC, datetime

import pytest

from loyalty.core.clock import SystemClock
from tests.conftest import IN_CI, make_settings
from tests.notifications.test_live_updates import _member, _purchase
from tests.support.data import api_key, install
from tests.support.live import listening
from tests.support.processes import RedisServer, environment, trouw_serve
from tests.support.server import start_server


async def _setup(database_url: str) -> str:
    await asyncio.to_thread(install, database_url)
    return await asyncio.to_thread(api_key, database_url, ["pos"], datetime.now(UTC))


async def test_a_change_through_one_process_reaches_a_subscriber_of_another(
    private_database: str, redis_url: str
) -> None:
    key = await _setup(private_database)
    env = environment(
        private_database,
        TROUW_REDIS_URL=redis_url,
        TROUW_REDIS_PREFIX=f"trouw-test-{uuid.uuid4().hex[:8]}:",
    )
    with trouw_serve(env) as (first, _), trouw_serve(env) as (second, _):
        from tests.support.server import GraphQLClient

        class Handle:  # the bits of ServerHandle that _member uses
            def __init__(self, base: str) -> None:
                self.url = base

            def client(self) -> GraphQLClient:
                return GraphQLClient(f"{self.url}/graphql")

        token, card = _member(Handle(first), "two-processes@example.com")  # type: ignore[arg-type]
        ws_second = second.replace("http://", "ws://") + "/graphql"
        async with listening(ws_second, token) as events:
            await asyncio.to_thread(_purchase, first, key, card, "two-proc-1")
            event = (await asyncio.wait_for(events.get(), timeout=10))["balanceChanged"]
            assert event["entry"]["points"] == 100


@pytest.mark.skipif(
    shutil.which("redis-server") is None and not IN_CI,
    reason="needs the redis-server program to start and stop a Redis of its own",
)
async def test_redis_outage_keeps_the_api_up_and_live_updates_resume(
    private_database: str,
) -> None:
    key = await _setup(private_database)
    with RedisServer() as redis_server:
        settings = make_settings(private_database, redis_url=redis_server.url)
        server = await asyncio.to_thread(start_server, settings, SystemClock())
        try:
            bus = server.server.config.app.state.services.bus  # type: ignore[attr-defined]
            token, card = _member(server, "outage@example.com")
            async with listening(server.ws_url, token) as events:
                await asyncio.to_thread(_purchase, server.url, key, card, "outage-1", "1.00")
                first = (await asyncio.wait_for(events.get(), timeout=10))["balanceChanged"]
                assert first["entry"]["points"] == 10

                redis_server.stop()
                # Queries and mutations go on while Redis is away.
                me = await asyncio.to_thread(
                    server.client(token).data, "{ me { balance { pending } } }"
                )
                assert me["me"]["balance"]["pending"] == 10
                await asyncio.to_thread(_purchase, server.url, key, card, "outage-2", "2.00")
                me = await asyncio.to_thread(
                    server.client(token).data, "{ me { balance { pending } } }"
                )
                assert me["me"]["balance"]["pending"] == 30

                redis_server.start()
                # The bus lives in the server's thread and loop: look, don't await its event.
                for _ in range(300):
                    if bus.connected.is_set():
                        break
                    await asyncio.sleep(0.05)
                assert bus.connected.is_set()
                # What happened during the outage arrives, then live updates go on.
                missed = (await asyncio.wait_for(events.get(), timeout=20))["balanceChanged"]
                assert missed["entry"]["points"] == 20
                await asyncio.to_thread(_purchase, server.url, key, card, "outage-3", "3.00")
                live = (await asyncio.wait_for(events.get(), timeout=10))["balanceChanged"]
                assert live["entry"]["points"] == 30
        finally:
            await asyncio.to_thread(server.stop)
