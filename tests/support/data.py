"""Putting test data straight into a database: API keys and programmes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from loyalty.auth.apikeys import create_api_key
from loyalty.core.opaque_ids import OpaqueIds
from loyalty.demo.data import DEMO_PROGRAMME
from loyalty.programme.install import install_programme
from loyalty.programme.loader import load_programme, parse_programme
from loyalty.storage.database import Database


def api_key(database_url: str, scopes: list[str], now: datetime, name: str = "till 1") -> str:
    """Create an integration API key in the database; returns its plaintext."""

    async def create() -> str:
        db = Database(database_url)
        try:
            async with db.unit_of_work() as uow:
                _, plaintext = await create_api_key(uow.session, name, scopes, now)
                await uow.commit()
        finally:
            await db.dispose()
        return plaintext

    return asyncio.run(create())


def install(
    database_url: str, programme: str | Path = DEMO_PROGRAMME, *, joining_bonuses: bool = False
) -> None:
    """Put a programme (YAML text, or a file; the demo programme by default) into force.

    Without `joining_bonuses` the rules that reward signing up and completing the profile are
    left out, so that a test's new member starts at zero and its sums stay about purchases."""
    file = load_programme(programme) if isinstance(programme, Path) else parse_programme(programme)
    if not joining_bonuses:
        rules = [r for r in file.earning.rules if r.event not in ("sign_up", "profile_completed")]
        file = file.model_copy(update={"earning": file.earning.model_copy(update={"rules": rules})})

    async def apply() -> None:
        db = Database(database_url)
        try:
            async with db.unit_of_work() as uow:
                await install_programme(uow.session, file, datetime.now(UTC))
                await uow.commit()
        finally:
            await db.dispose()

    asyncio.run(apply())


TEST_SECRET = "test-signing-key-" + "x" * 32


def server_ids() -> OpaqueIds:
    """The opaque ids the test servers (whose `secret_key` is TEST_SECRET) make."""
    return OpaqueIds(TEST_SECRET.encode())


def sealed_id(raw: str, secret: str = TEST_SECRET) -> str:
    """The opaque id the test servers (whose `secret_key` this is) give `Type:rowid`."""
    from strawberry import relay

    from api.core.ids import IdCodec

    type_name, _, node_id = raw.partition(":")
    return IdCodec(secret.encode()).encode(relay.GlobalID(type_name, node_id))


def opened_id(sealed: str, secret: str = TEST_SECRET) -> tuple[str, int]:
    """The type and row id inside an opaque id of the test servers."""
    from api.core.ids import IdCodec

    found = IdCodec(secret.encode()).parse(sealed)
    assert found is not None, sealed
    return found.type_name, int(found.node_id)
