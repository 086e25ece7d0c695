"""One pool checkout per request and no ping per checkout: a PostgreSQL backend that dies
between requests (pg_terminate_backend) costs the next request nothing but a fresh
connection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text

from loyalty.core.clock import FixedClock
from loyalty.storage.database import Database
from tests.conftest import make_settings
from tests.support.flows import ME, sign_up
from tests.support.server import ServerHandle, start_server


@pytest.fixture
def own_server(private_database: str, clock: FixedClock) -> Iterator[ServerHandle]:
    handle = start_server(make_settings(private_database), clock)
    try:
        yield handle
    finally:
        handle.stop()


def _checkouts(handle: ServerHandle) -> list[int]:
    app: Any = handle.server.config.app
    engine = app.state.services.db.engine.sync_engine
    seen: list[int] = []

    def record(*_: Any) -> None:
        task = asyncio.current_task()
        if task is None or not task.get_name().startswith("trouw-"):
            seen.append(1)

    event.listen(engine, "checkout", record)
    return seen


def test_one_checkout_per_request(own_server: ServerHandle) -> None:
    app = own_server.client()
    app.token = sign_up(app, "scope@example.com")["session"]["accessToken"]
    seen = _checkouts(own_server)
    app.data(ME)
    assert len(seen) == 1


def _terminate_server_connections(url: str) -> int:
    async def terminate() -> int:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                killed = await conn.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
        finally:
            await db.dispose()
        return int(killed or 0)

    return asyncio.run(terminate())


def test_a_killed_backend_connection_is_replaced(
    own_server: ServerHandle, private_database: str
) -> None:
    if not private_database.startswith("postgresql"):
        pytest.skip("kills PostgreSQL backends")
    app = own_server.client()
    app.token = sign_up(app, "killed@example.com")["session"]["accessToken"]
    for _ in range(3):
        assert app.data(ME)["me"]["email"] == "killed@example.com"
        assert _terminate_server_connections(private_database) >= 1
    assert app.data(ME)["me"]["email"] == "killed@example.com"


def test_a_failing_sibling_field_leaves_no_broken_connection(server: ServerHandle) -> None:
    """A field refused (the back office's `liability` asked with a member's token) beside one
    still reading: the request answers with the error, and the next requests work."""
    client = server.client()
    client.token = sign_up(client, "siblings@example.com")["session"]["accessToken"]
    for _ in range(20):
        result = client.post("{ me { lifecycleStage } liability { value } }")
        assert result["errors"] and "Unexpected error." not in str(result["errors"])
    assert client.data("{ me { memberNumber } }")["me"]["memberNumber"]


def test_a_failed_statement_does_not_spoil_the_next_mutation(
    server: ServerHandle, clean_database: str
) -> None:
    """Mutations run one after another in one request: a statement the database refused in
    one (here a sign-up by a member already signed in, found by the fuzz test) must not leave
    the next one a transaction it cannot use."""
    client = server.client()
    client.token = sign_up(client, "serial@example.com")["session"]["accessToken"]
    document = """mutation {
      signUp(input: { email: "", password: "", birthDate: "2000-01-01" }) { userErrors { code } }
      setConsent(input: { channel: EMAIL, granted: true }) { userErrors { code } }
    }"""
    result = client.post(document)
    assert "Unexpected error." not in str(result), result
    assert client.data("{ me { memberNumber } }")["me"]["memberNumber"]
