"""Integration API keys, and the fixed-window counters behind the sign-in limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from loyalty.auth import apikeys, ratelimit
from loyalty.auth.apikeys import Integration
from loyalty.auth.models import ApiKey, RateLimitCounter
from loyalty.auth.service import AuthService
from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError
from loyalty.core.identifiers import hash_secret
from loyalty.storage.database import Database

# --- API keys -----------------------------------------------------------------------------


async def new_key(
    db: Database, clock: FixedClock, name: str = "Till 1", scopes: list[str] | None = None
) -> tuple[ApiKey, str]:
    async with db.unit_of_work() as uow:
        key, plaintext = await apikeys.create_api_key(
            uow.session, name, scopes if scopes is not None else ["pos"], clock.now()
        )
        await uow.commit()
    return key, plaintext


async def find(db: Database, token: str) -> ApiKey:
    async with db.unit_of_work(write=False) as uow:
        return await apikeys.find_key(uow.session, token)


async def stored_keys(db: Database) -> list[ApiKey]:
    async with db.unit_of_work(write=False) as uow:
        return await apikeys.list_api_keys(uow.session)


async def test_create_api_key_returns_plaintext_once_and_stores_its_hash(
    db: Database, clock: FixedClock
) -> None:
    key, plaintext = await new_key(db, clock, "  Till 1  ", ["pos", "pos"])
    assert plaintext.startswith("trw_")
    assert apikeys.is_api_key(plaintext)
    prefix, key_id, secret = plaintext.split("_", 2)
    assert prefix == "trw" and key_id == key.key_id and len(key_id) == 12
    assert len(secret) >= 43
    assert key.name == "Till 1" and key.scopes == ["pos"]

    (stored,) = await stored_keys(db)
    assert stored.secret_hash == hash_secret(plaintext)
    row_text = " ".join(str(getattr(stored, column.key)) for column in ApiKey.__table__.columns)
    assert plaintext not in row_text and secret not in row_text
    assert stored.created_at == clock.now()
    assert stored.revoked_at is None and stored.last_used_at is None

    found = await find(db, plaintext)
    assert found.id == key.id


async def test_keys_are_distinct(db: Database, clock: FixedClock) -> None:
    made = [await new_key(db, clock, f"k{i}") for i in range(10)]
    assert len({k.key_id for k, _ in made}) == 10
    assert len({p for _, p in made}) == 10
    for key, plaintext in made:
        assert (await find(db, plaintext)).id == key.id


@pytest.mark.parametrize("name", ["", "   ", "x" * 121])
async def test_create_api_key_needs_a_name(db: Database, clock: FixedClock, name: str) -> None:
    with pytest.raises(DomainError) as caught:
        await new_key(db, clock, name)
    assert (caught.value.code, caught.value.field) == ("INVALID_NAME", "name")
    assert await stored_keys(db) == []


@pytest.mark.parametrize("scopes", [[], ["root"], ["pos", "superuser"], ["POS"]])
async def test_create_api_key_validates_scopes(
    db: Database, clock: FixedClock, scopes: list[str]
) -> None:
    with pytest.raises(DomainError) as caught:
        await new_key(db, clock, "Shop", scopes)
    assert (caught.value.code, caught.value.field) == ("INVALID_SCOPE", "scope")
    assert await stored_keys(db) == []


async def test_create_api_key_accepts_both_scopes(db: Database, clock: FixedClock) -> None:
    key, _ = await new_key(db, clock, "Back office", ["admin", "pos"])
    assert key.scopes == ["admin", "pos"]
    await new_key(db, clock, "x" * 120, ["admin"])


async def test_find_key_refuses_wrong_unknown_revoked_and_malformed_keys(
    db: Database, clock: FixedClock
) -> None:
    key, plaintext = await new_key(db, clock)
    _, other = await new_key(db, clock, "Till 2")
    _, key_id, secret = plaintext.split("_", 2)
    bad = [
        f"trw_{key_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}",  # wrong secret
        f"trw_{key_id}_" + other.split("_", 2)[2],  # another key's secret
        f"trw_{'z' * 12}_{secret}",  # unknown key id
        f"trw_{key_id}_",
        f"trw_{key_id}",
        f"trx_{key_id}_{secret}",
        plaintext[:-1],
        "",
        "trw_",
        f"trw_{key_id[:-1]}_{secret}",
    ]
    for token in bad:
        with pytest.raises(DomainError) as caught:
            await find(db, token)
        assert caught.value.code == "INVALID_API_KEY", token

    async with db.unit_of_work() as uow:
        await apikeys.revoke_api_key(uow.session, key.key_id, clock.now())
        await uow.commit()
    with pytest.raises(DomainError) as caught:
        await find(db, plaintext)
    assert caught.value.code == "INVALID_API_KEY"
    assert (await find(db, other)).name == "Till 2"  # others still work


async def test_revoking_twice_keeps_the_first_moment_and_unknown_is_not_found(
    db: Database, clock: FixedClock
) -> None:
    key, _ = await new_key(db, clock)
    revoked_at = clock.now()
    for _ in range(2):
        async with db.unit_of_work() as uow:
            await apikeys.revoke_api_key(uow.session, key.key_id, clock.now())
            await uow.commit()
        clock.advance(timedelta(hours=1))
    (stored,) = await stored_keys(db)
    assert stored.revoked_at == revoked_at
    async with db.unit_of_work() as uow:
        with pytest.raises(DomainError) as caught:
            await apikeys.revoke_api_key(uow.session, "nope", clock.now())
    assert caught.value.code == "NOT_FOUND"


async def test_install_api_key_is_idempotent(db: Database, clock: FixedClock) -> None:
    plaintext = "trw_abcdefghijkl_known-secret-for-a-test"
    async with db.unit_of_work() as uow:
        first = await apikeys.install_api_key(uow.session, "Demo", ["pos"], plaintext, clock.now())
        again = await apikeys.install_api_key(uow.session, "Demo", ["pos"], plaintext, clock.now())
        await uow.commit()
    assert first.id == again.id
    assert len(await stored_keys(db)) == 1
    assert (await find(db, plaintext)).id == first.id
    async with db.unit_of_work() as uow:
        with pytest.raises(DomainError) as caught:
            await apikeys.install_api_key(uow.session, "Bad", ["pos"], "sk_nope", clock.now())
    assert caught.value.code == "INVALID_API_KEY"


def test_integration_allows_its_scopes_and_admin_implies_pos() -> None:
    pos = Integration(1, "till", frozenset({"pos"}))
    admin = Integration(2, "office", frozenset({"admin"}))
    nothing = Integration(3, "none", frozenset())
    assert pos.allows("pos") and not pos.allows("admin")
    assert admin.allows("admin") and admin.allows("pos")
    assert not nothing.allows("pos") and not nothing.allows("admin")


async def test_integration_of_a_key(db: Database, clock: FixedClock) -> None:
    key, _ = await new_key(db, clock, "Till", ["pos"])
    integration = apikeys.integration_of(key)
    assert integration == Integration(key.id, "Till", frozenset({"pos"}))


async def test_needs_touch_and_touch(db: Database, clock: FixedClock) -> None:
    key, _ = await new_key(db, clock)
    assert apikeys.needs_touch(key, clock.now())
    async with db.unit_of_work() as uow:
        await apikeys.touch(uow.session, key.id, clock.now())
        await uow.commit()
    (stored,) = await stored_keys(db)
    assert stored.last_used_at == clock.now()
    assert not apikeys.needs_touch(stored, clock.now())
    assert not apikeys.needs_touch(stored, clock.now() + timedelta(seconds=59))
    assert apikeys.needs_touch(stored, clock.now() + timedelta(minutes=1))


async def test_authenticate_integration_records_use_sparingly(
    auth: AuthService, db: Database, clock: FixedClock
) -> None:
    key, plaintext = await new_key(db, clock, "Office", ["admin"])
    first_use = clock.now()
    integration = await auth.authenticate_integration(plaintext)
    assert integration.api_key_id == key.id and integration.allows("pos")
    assert (await stored_keys(db))[0].last_used_at == first_use

    clock.advance(timedelta(seconds=30))
    await auth.authenticate_integration(plaintext)
    assert (await stored_keys(db))[0].last_used_at == first_use  # not worth a write yet

    clock.advance(timedelta(seconds=30))
    await auth.authenticate_integration(plaintext)
    assert (await stored_keys(db))[0].last_used_at == clock.now()

    with pytest.raises(DomainError) as caught:
        await auth.authenticate_integration(plaintext + "x")
    assert caught.value.code == "INVALID_API_KEY"


# --- rate limit counters ------------------------------------------------------------------

WINDOW = timedelta(minutes=15)
START = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # on a 15-minute boundary


async def hit(db: Database, bucket: str, now: datetime, window: timedelta = WINDOW) -> int:
    async with db.unit_of_work() as uow:
        n = await ratelimit.hit(uow.session, bucket, window, now)
        await uow.commit()
    return n


async def current(db: Database, bucket: str, now: datetime, window: timedelta = WINDOW) -> int:
    async with db.unit_of_work(write=False) as uow:
        return await ratelimit.count(uow.session, bucket, window, now)


async def test_hit_counts_within_a_window(db: Database) -> None:
    assert await current(db, "b", START) == 0
    assert [await hit(db, "b", START + timedelta(minutes=i)) for i in range(5)] == [1, 2, 3, 4, 5]
    assert await current(db, "b", START + timedelta(minutes=14, seconds=59)) == 5
    assert await current(db, "other", START) == 0


async def test_a_new_window_starts_from_one(db: Database) -> None:
    for _ in range(3):
        await hit(db, "b", START + timedelta(minutes=14, seconds=59))
    assert await hit(db, "b", START + WINDOW) == 1
    assert await current(db, "b", START + WINDOW) == 1
    assert await current(db, "b", START) == 3  # the old window is still as it was
    assert await hit(db, "b", START - timedelta(seconds=1)) == 1  # the window before


async def test_window_start_is_recorded(db: Database) -> None:
    await hit(db, "b", START + timedelta(minutes=7, seconds=3))
    async with db.unit_of_work(write=False) as uow:
        (row,) = list(await uow.session.scalars(select(RateLimitCounter)))
    assert row.window_start == START
    assert row.count == 1


async def test_reset_clears_the_current_window(db: Database) -> None:
    for _ in range(4):
        await hit(db, "b", START)
    await hit(db, "keep", START)
    async with db.unit_of_work() as uow:
        await ratelimit.reset(uow.session, "b", WINDOW, START + timedelta(minutes=1))
        await uow.commit()
    assert await current(db, "b", START) == 0
    assert await current(db, "keep", START) == 1
    assert await hit(db, "b", START) == 1


async def test_prune_removes_only_old_windows(db: Database) -> None:
    await hit(db, "b", START)
    await hit(db, "b", START + WINDOW)
    await hit(db, "c", START + 2 * WINDOW)
    async with db.unit_of_work() as uow:
        await ratelimit.prune(uow.session, START + WINDOW)
        await uow.commit()
    async with db.unit_of_work(write=False) as uow:
        left = sorted(r.window_start for r in await uow.session.scalars(select(RateLimitCounter)))
    assert left == [START + WINDOW, START + 2 * WINDOW]


async def test_uncommitted_hits_do_not_count(db: Database) -> None:
    async with db.unit_of_work() as uow:
        assert await ratelimit.hit(uow.session, "b", WINDOW, START) == 1
    assert await current(db, "b", START) == 0


async def test_concurrent_hits_are_all_counted(db: Database) -> None:
    async def many(n: int) -> list[int]:
        return [await hit(db, "busy", START) for _ in range(n)]

    results = await asyncio.gather(*(many(5) for _ in range(6)))
    seen = sorted(n for batch in results for n in batch)
    # Every hit got its own number: none was lost or counted twice.
    assert seen == list(range(1, 31))
    assert await current(db, "busy", START) == 30


async def test_concurrent_first_hits_on_an_empty_bucket(db: Database) -> None:
    """Several processes may start a bucket at the same moment; the insert must not fail."""
    engines = [Database(db.url) for _ in range(3)]
    try:
        counts = await asyncio.gather(
            *(hit(engine, "fresh", START) for engine in engines for _ in range(3))
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(counts) == list(range(1, 10))
