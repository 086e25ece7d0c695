"""The in-app inbox: messages for one member, newest first, read or unread."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Protocol

from sqlalchemy import BindParameter, ColumnElement, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import NotFound
from loyalty.messaging.models import InboxMessage
from loyalty.storage import direct
from loyalty.storage.database import Database

MAX_TITLE = 200
MAX_BODY = 4000


@dataclass(frozen=True)
class Counts:
    total: int
    unread: int


class MessageRow(Protocol):
    """What a reader of the inbox sees of a message: the message itself, or its columns read
    as a row on the direct path (a page of the inbox, on the home screen)."""

    id: int
    member_id: int
    title: str
    body: str
    offer_id: int | None
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class NewMessage:
    member_id: int
    title: str
    body: str
    event_id: int | None = None
    offer_id: int | None = None


async def add_messages(s: AsyncSession, messages: Sequence[NewMessage], now: datetime) -> int:
    """Put messages in inboxes; a message for a (member, event) that is already there is
    skipped, so telling about an event twice leaves one message. Returns how many were new."""
    if not messages:
        return 0
    rows = [
        {
            "member_id": m.member_id,
            "event_id": m.event_id,
            "title": m.title[:MAX_TITLE],
            "body": m.body[:MAX_BODY],
            "offer_id": m.offer_id,
            "created_at": now,
            "read_at": None,
        }
        for m in messages
    ]
    dialect = s.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(InboxMessage)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["member_id", "event_id"])
        .returning(InboxMessage.id)
    )
    return len(list(await s.scalars(statement)))


# Statements built once (the app's home screen reads the inbox on every request).
_MEMBERS: BindParameter[int] = bindparam("members", expanding=True)
_COUNTS = (
    select(
        InboxMessage.member_id,
        func.count(),
        func.coalesce(func.sum(case((InboxMessage.read_at.is_(None), 1), else_=0)), 0),
    )
    .where(InboxMessage.member_id.in_(_MEMBERS))
    .group_by(InboxMessage.member_id)
)


_SHOWN = (
    InboxMessage.id,
    InboxMessage.member_id,
    InboxMessage.title,
    InboxMessage.body,
    InboxMessage.offer_id,
    InboxMessage.created_at,
    InboxMessage.read_at,
)


@cache
def _pages(before: bool, unread_only: bool) -> direct.AnySelect:
    """Up to `limit` messages per member of `members`, older than `before` if asked."""
    conditions: list[ColumnElement[bool]] = [InboxMessage.member_id.in_(_MEMBERS)]
    if before:
        conditions.append(InboxMessage.id < bindparam("before"))
    if unread_only:
        conditions.append(InboxMessage.read_at.is_(None))
    position = (
        func.row_number()
        .over(partition_by=InboxMessage.member_id, order_by=InboxMessage.id.desc())
        .label("position")
    )
    ranked = select(InboxMessage.id, position).where(*conditions).subquery()
    return (
        select(*_SHOWN)
        .join(ranked, ranked.c.id == InboxMessage.id)
        .where(ranked.c.position <= bindparam("limit"))
        .order_by(InboxMessage.member_id, InboxMessage.id.desc())
    )


async def pages(
    s: AsyncSession,
    member_ids: Sequence[int],
    limit: int,
    before_id: int | None = None,
    unread_only: bool = False,
) -> dict[int, list[MessageRow]]:
    """Up to `limit` messages of each member, newest first, older than `before_id` if given:
    one query however many members, its rows read on the direct path."""
    if not member_ids or limit <= 0:
        return {m: [] for m in member_ids}
    given = {"members": list(member_ids), "limit": limit, "before": before_id}
    rows = await direct.rows(s, _pages(before_id is not None, unread_only), given)
    found: dict[int, list[MessageRow]] = defaultdict(list)
    for row in rows:
        found[row.member_id].append(row)
    return {m: found.get(m, []) for m in member_ids}


async def counts(s: AsyncSession, member_ids: Sequence[int]) -> dict[int, Counts]:
    """Total and unread messages of each member, in one query."""
    if not member_ids:
        return {}
    rows = await direct.rows(s, _COUNTS, {"members": list(member_ids)})
    found = {member_id: Counts(int(total), int(unread)) for member_id, total, unread in rows}
    return {m: found.get(m, Counts(0, 0)) for m in member_ids}


async def messages_by_ids(s: AsyncSession, ids: Sequence[int]) -> list[InboxMessage]:
    if not ids:
        return []
    return list(await s.scalars(select(InboxMessage).where(InboxMessage.id.in_(ids))))


async def mark_read(
    s: AsyncSession, member_id: int, message_id: int, now: datetime
) -> InboxMessage:
    """Mark one of the member's own messages read. Marking it again keeps the first moment;
    someone else's message is not found (the same answer as one that does not exist)."""
    await s.execute(
        update(InboxMessage)
        .where(
            InboxMessage.id == message_id,
            InboxMessage.member_id == member_id,
            InboxMessage.read_at.is_(None),
        )
        .values(read_at=now)
    )
    message = await s.scalar(
        select(InboxMessage)
        .where(InboxMessage.id == message_id, InboxMessage.member_id == member_id)
        .execution_options(populate_existing=True)
    )
    if message is None:
        raise NotFound("Message", "messageId")
    return message


class InboxService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def mark_read(self, member_id: int, message_id: int) -> InboxMessage:
        async with self.db.unit_of_work() as uow:
            message = await mark_read(uow.session, member_id, message_id, self.clock.now())
            await uow.commit()
        return message

    async def add(self, messages: Sequence[NewMessage]) -> int:
        async with self.db.unit_of_work() as uow:
            added = await add_messages(uow.session, messages, self.clock.now())
            await uow.commit()
        return added

    async def page(
        self, member_id: int, limit: int, before_id: int | None = None, unread_only: bool = False
    ) -> list[MessageRow]:
        async with self.db.unit_of_work(write=False) as uow:
            found = await pages(uow.session, [member_id], limit, before_id, unread_only)
        return found[member_id]

    async def counts(self, member_id: int) -> Counts:
        async with self.db.unit_of_work(write=False) as uow:
            return (await counts(uow.session, [member_id]))[member_id]
