"""Devices and inbox messages in the domain, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from loyalty.core.clock import FixedClock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.messaging import inbox
from loyalty.messaging.devices import MAX_DEVICES_PER_MEMBER, DeviceService
from loyalty.messaging.inbox import InboxService, NewMessage
from loyalty.storage.database import Database
from tests.notifications.helpers import devices_of, member


async def test_register_refresh_and_move_a_token(db: Database, clock: FixedClock) -> None:
    service = DeviceService(db, clock)
    anna = await member(db, clock, devices=())
    bert = await member(db, clock, "bert@example.com", devices=())

    first = await service.register(anna, "ios", "  token-1 ")
    assert first.created and first.device.token == "token-1"
    clock.advance(timedelta(days=1))
    again = await service.register(anna, "ios", "token-1")
    assert not again.created
    assert again.device.id == first.device.id
    assert again.device.last_seen_at == clock.now()

    # The phone changes hands: the token moves to Bert as a new device.
    moved = await service.register(bert, "ios", "token-1")
    assert moved.created and moved.device.member_id == bert
    assert await devices_of(db, anna) == []
    assert [d.token for d in await devices_of(db, bert)] == ["token-1"]

    # Anna cannot remove Bert's device; Bert can, once.
    assert not await service.unregister(anna, "token-1")
    assert await service.unregister(bert, "token-1")
    assert not await service.unregister(bert, "token-1")


async def test_bad_registrations_are_refused(db: Database, clock: FixedClock) -> None:
    service = DeviceService(db, clock)
    anna = await member(db, clock, devices=())
    with pytest.raises(ValidationFailed) as refused:
        await service.register(anna, "windows", "")
    assert sorted(p.code for p in refused.value.problems) == ["INVALID_PLATFORM", "INVALID_TOKEN"]
    for token in ("x" * 1025, "with space", "new\nline"):
        with pytest.raises(DomainError):
            await service.register(anna, "android", token)


async def test_a_member_keeps_a_bounded_number_of_devices(db: Database, clock: FixedClock) -> None:
    service = DeviceService(db, clock)
    anna = await member(db, clock, devices=())
    for n in range(MAX_DEVICES_PER_MEMBER + 3):
        clock.advance(timedelta(seconds=1))
        await service.register(anna, "android", f"token-{n}")
    kept = sorted(d.token for d in await devices_of(db, anna))
    assert len(kept) == MAX_DEVICES_PER_MEMBER
    assert "token-0" not in kept and f"token-{MAX_DEVICES_PER_MEMBER + 2}" in kept


async def test_the_same_token_registered_twice_at_once(db: Database, clock: FixedClock) -> None:
    service = DeviceService(db, clock)
    anna = await member(db, clock, devices=())
    results = await asyncio.gather(*(service.register(anna, "ios", "same") for _ in range(5)))
    assert len({r.device.id for r in results}) == 1
    assert len(await devices_of(db, anna)) == 1


async def test_inbox_pages_counts_and_marking_read(db: Database, clock: FixedClock) -> None:
    service = InboxService(db, clock)
    anna = await member(db, clock, devices=())
    bert = await member(db, clock, "bert@example.com", devices=())
    added = await service.add(
        [NewMessage(anna, f"Message {n}", "…", event_id=n) for n in range(1, 6)]
        + [NewMessage(bert, "For Bert", "…")]
    )
    assert added == 6
    # The same (member, event) again adds nothing; messages without an event always add.
    assert await service.add([NewMessage(anna, "Again", "…", event_id=1)]) == 0
    assert await service.add([NewMessage(bert, "Another", "…")]) == 1

    page = await service.page(anna, 2)
    assert [m.title for m in page] == ["Message 5", "Message 4"]
    rest = await service.page(anna, 10, before_id=page[-1].id)
    assert [m.title for m in rest] == ["Message 3", "Message 2", "Message 1"]

    clock.advance(timedelta(minutes=1))
    read = await service.mark_read(anna, page[0].id)
    assert read.read_at == clock.now()
    clock.advance(timedelta(minutes=1))
    assert (await service.mark_read(anna, page[0].id)).read_at == read.read_at  # idempotent
    with pytest.raises(DomainError) as refused:
        await service.mark_read(bert, page[1].id)
    assert (refused.value.code, refused.value.field) == ("NOT_FOUND", "messageId")

    assert await service.counts(anna) == inbox.Counts(total=5, unread=4)
    assert await service.counts(bert) == inbox.Counts(total=2, unread=2)
    unread = await service.page(anna, 10, unread_only=True)
    assert [m.title for m in unread] == ["Message 4", "Message 3", "Message 2", "Message 1"]

    # Several members' pages and counts in one query each.
    async with db.unit_of_work(write=False) as uow:
        pages = await inbox.pages(uow.session, [anna, bert, 999], 2)
        counts = await inbox.counts(uow.session, [anna, bert, 999])
    assert [len(pages[m]) for m in (anna, bert, 999)] == [2, 2, 0]
    assert counts[999] == inbox.Counts(0, 0)
