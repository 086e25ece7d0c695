"""Positions that outbox consumers keep in the database, so that they never scan the whole
outbox: every event of interest at or below a consumer's position is known to be handled.

Ids come from a sequence but transactions commit in any order, so an id below one already
seen may still appear. A position only moves over ids that are final: below an event that
was handled (or published) more than CURSOR_SAFETY ago. No transaction that writes outbox
events stays open that long.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.models import WorkerCursor
from loyalty.storage.database import insert_for

CURSOR_SAFETY = timedelta(minutes=10)


async def position_of(s: AsyncSession, name: str) -> int:
    position = await s.scalar(select(WorkerCursor.position).where(WorkerCursor.name == name))
    return int(position or 0)


async def advance(
    s: AsyncSession,
    name: str,
    position: int,
    final: int | None,
    first_pending: Select[Any],
    now: datetime,
) -> None:
    """Move `name` up to `final` (an id known to be final), but not past the oldest event
    still pending: `first_pending` selects the lowest pending id up to `final`."""
    if final is None or final <= position:
        return
    gap = await s.scalar(first_pending)
    new = int(gap) - 1 if gap is not None else final
    if new <= position:
        return
    statement = insert_for(s)(WorkerCursor).values(name=name, position=new, updated_at=now)
    await s.execute(
        statement.on_conflict_do_update(
            index_elements=["name"],
            set_={"position": new, "updated_at": now},
            where=WorkerCursor.position < new,
        )
    )
