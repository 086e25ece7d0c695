"""The event feed a live subscriber catches up from: what a member missed while away, read from
the outbox (which the bus only echoes), as the bus messages the subscriber already handles.

A subscriber that starts without a cursor takes `newest` as the last event it has seen; one
that resumes (or whose bus was away) replays `missed` after its cursor, then dedupes what
the bus brings by event id.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, or_, select

from loyalty.core.events import Event
from loyalty.core.models import OutboxEvent
from loyalty.storage.database import Database
from notifications.bus import BusMessage
from notifications.relay import messages_of

MAX_REPLAY = 1000


def _whose(member_id: int, programme_wide: bool) -> ColumnElement[bool]:
    """The member's events, and with `programme_wide` those about no member in particular."""
    mine = OutboxEvent.member_id == member_id
    return or_(mine, OutboxEvent.member_id.is_(None)) if programme_wide else mine


async def newest(db: Database, member_id: int, programme_wide: bool = False) -> int:
    """The id of the member's newest outbox event (published or not), 0 if none."""
    async with db.unit_of_work(write=False) as uow:
        found = await uow.session.scalar(
            select(func.max(OutboxEvent.id)).where(_whose(member_id, programme_wide))
        )
    return int(found or 0)


async def newest_of(db: Database, asks: Sequence[tuple[int, bool]]) -> list[int]:
    """`newest` for many (member, programme_wide) at once, in one query: what a burst of
    subscribers connecting together needs."""
    members = sorted({member_id for member_id, _ in asks})
    wide = any(programme_wide for _, programme_wide in asks)
    whose = OutboxEvent.member_id.in_(members)
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.execute(
            select(OutboxEvent.member_id, func.max(OutboxEvent.id))
            .where(or_(whose, OutboxEvent.member_id.is_(None)) if wide else whose)
            .group_by(OutboxEvent.member_id)
        )
        found: dict[int | None, int] = {member_id: int(top) for member_id, top in rows}
    everyone = found.get(None, 0)
    return [
        max(found.get(member_id, 0), everyone) if programme_wide else found.get(member_id, 0)
        for member_id, programme_wide in asks
    ]


async def missed(
    db: Database,
    member_id: int,
    event_types: type[Event] | Sequence[type[Event]],
    after: int,
    limit: int = MAX_REPLAY,
    programme_wide: bool = False,
) -> list[BusMessage]:
    """The member's events of these types after id `after`, oldest first, at most `limit` of
    them (with `programme_wide`, also those about no member in particular).

    On PostgreSQL only published ones: ids are drawn before commit there, so a committed event
    may yet be followed by a smaller id committing later, which the relay publishes in its
    turn. On SQLite writers take turns, so ids follow commit order and every committed event
    counts: a subscriber starting between the relay's publishing and its marking (a moment a
    loaded machine stretches) would otherwise hear such an event neither way."""
    kinds = [event_types] if isinstance(event_types, type) else list(event_types)
    published = () if db.is_sqlite else (OutboxEvent.published_at.is_not(None),)
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent)
            .where(
                _whose(member_id, programme_wide),
                OutboxEvent.topic.in_([kind.name for kind in kinds]),
                OutboxEvent.id > after,
                *published,
            )
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
        return messages_of(rows)
