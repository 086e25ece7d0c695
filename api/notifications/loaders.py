"""Per-request DataLoaders of the inbox: one query per kind of thing, however many members.

Part of the request's `Loaders`, with the same caching (none on websocket connections)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from loyalty.messaging import inbox
from loyalty.messaging.models import InboxMessage
from loyalty.storage.database import Database

if TYPE_CHECKING:
    from api.context import Context


class PageKey(NamedTuple):
    member_id: int
    limit: int
    before_id: int | None
    unread_only: bool


class NotificationLoaders:
    def __init__(self, db: Database, *, cache: bool = True) -> None:
        self._db = db
        self.inbox_page = DataLoader[PageKey, list[InboxMessage]](load_fn=self._pages, cache=cache)
        self.inbox_counts = DataLoader[int, inbox.Counts](load_fn=self._counts, cache=cache)
        self.message = DataLoader[int, InboxMessage | None](load_fn=self._messages, cache=cache)

    def forget(self) -> None:
        """After a change to the inbox, so the same request reads what it wrote."""
        for loader in (self.inbox_page, self.inbox_counts, self.message):
            loader.clear_all()

    async def _pages(self, keys: Sequence[PageKey]) -> list[list[InboxMessage]]:
        # Usually every member in a query asks for the same page shape: one query per shape.
        shapes: dict[tuple[int, int | None, bool], list[int]] = defaultdict(list)
        for key in keys:
            shapes[(key.limit, key.before_id, key.unread_only)].append(key.member_id)
        found: dict[PageKey, list[InboxMessage]] = {}
        async with self._db.unit_of_work(write=False) as uow:
            for (limit, before_id, unread_only), member_ids in shapes.items():
                pages = await inbox.pages(uow.session, member_ids, limit, before_id, unread_only)
                for member_id, rows in pages.items():
                    found[PageKey(member_id, limit, before_id, unread_only)] = rows
        return [found.get(key, []) for key in keys]

    async def _counts(self, member_ids: Sequence[int]) -> list[inbox.Counts]:
        async with self._db.unit_of_work(write=False) as uow:
            found = await inbox.counts(uow.session, member_ids)
        return [found[m] for m in member_ids]

    async def _messages(self, ids: Sequence[int]) -> list[InboxMessage | None]:
        async with self._db.unit_of_work(write=False) as uow:
            found = {m.id: m for m in await inbox.messages_by_ids(uow.session, ids)}
        return [found.get(i) for i in ids]


def loaders_of(info: Info[Context, None]) -> NotificationLoaders:
    return info.context.loaders.notifications
