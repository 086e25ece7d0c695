"""Reads of messaging for the API: inbox pages and counts of many members, messages by id,
a member's devices.

Each call is one short read-only transaction that changes nothing; batch reads answer in the
order asked for, as DataLoaders need.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from loyalty.messaging import devices, inbox
from loyalty.messaging.models import Device, InboxMessage
from loyalty.storage.database import Database


@dataclass(frozen=True)
class InboxPage:
    """Which page of whose inbox: up to `limit` messages, newest first, older than
    `before_id` if given."""

    member_id: int
    limit: int
    before_id: int | None = None
    unread_only: bool = False


class MessagingReads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def inbox_pages(self, pages: Sequence[InboxPage]) -> list[list[inbox.MessageRow]]:
        # Usually every member in a query asks for the same page shape: one query per shape.
        shapes: dict[tuple[int, int | None, bool], list[int]] = defaultdict(list)
        for page in pages:
            shapes[(page.limit, page.before_id, page.unread_only)].append(page.member_id)
        found: dict[InboxPage, list[inbox.MessageRow]] = {}
        async with self._db.unit_of_work(write=False) as uow:
            for (limit, before_id, unread_only), member_ids in shapes.items():
                rows = await inbox.pages(uow.session, member_ids, limit, before_id, unread_only)
                for member_id, messages in rows.items():
                    found[InboxPage(member_id, limit, before_id, unread_only)] = messages
        return [found.get(page, []) for page in pages]

    async def inbox_counts(self, member_ids: Sequence[int]) -> list[inbox.Counts]:
        async with self._db.unit_of_work(write=False) as uow:
            found = await inbox.counts(uow.session, member_ids)
        return [found[m] for m in member_ids]

    async def messages(self, ids: Sequence[int]) -> list[InboxMessage | None]:
        async with self._db.unit_of_work(write=False) as uow:
            found = {m.id: m for m in await inbox.messages_by_ids(uow.session, ids)}
        return [found.get(i) for i in ids]

    async def devices_of(self, member_id: int) -> list[Device]:
        async with self._db.unit_of_work(write=False) as uow:
            return await devices.devices_of(uow.session, [member_id])
