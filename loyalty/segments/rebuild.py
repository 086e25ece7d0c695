"""The full rebuild: fresh RFM cut points for the whole programme, then every member
re-evaluated against every segment, a batch of members per transaction.

A run starts when none has run yet, when the last one began `REBUILD_EVERY` ago, or when a
segment's rules changed (`catalogue.due_for_rebuild`). Its progress (a member-id cursor) is
kept in the `segment_rebuilds` row, which each step locks, so several schedulers share one
run without doing a batch twice. Between runs, members' own events keep them up to date
(`reactions`); the run catches what time alone changes (a member who simply stops buying
drifts from active to at risk to lapsed without any event).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.members.models import Member
from loyalty.segments.membership import refresh_members
from loyalty.segments.models import RfmState
from loyalty.segments.rfm import STATE_ID, compute_cuts, of_row, to_row
from loyalty.storage.database import Database

REBUILD_EVERY = timedelta(days=1)


async def _state(s: AsyncSession, now: datetime) -> RfmState | None:
    """The state row, locked, with a run started if one is due; None when none is."""
    state = await s.scalar(select(RfmState).where(RfmState.id == STATE_ID).with_for_update())
    if state is None:
        state = RfmState(id=STATE_ID, recency_cuts=[], frequency_cuts=[], monetary_cuts=[])
        s.add(state)
    running = state.started_at is not None and state.finished_at is None
    if running:
        return state
    if state.started_at is not None and now - state.started_at < REBUILD_EVERY:
        return None
    for name, value in to_row(await compute_cuts(s, now)).items():
        setattr(state, name, value)
    state.started_at, state.finished_at, state.cursor = now, None, 0
    return state


async def rebuild_step(db: Database, now: datetime, batch: int) -> int:
    """One batch of the run in progress (starting one if due); how many members it took."""
    async with db.unit_of_work() as uow:
        s = uow.session
        state = await _state(s, now)
        if state is None:
            return 0
        ids = list(
            await s.scalars(
                select(Member.id).where(Member.id > state.cursor).order_by(Member.id).limit(batch)
            )
        )
        await refresh_members(s, ids, now, cuts=of_row(state))
        if ids:
            state.cursor = ids[-1]
        if len(ids) < batch:
            state.finished_at = now
        await uow.commit()
    return len(ids)


async def rebuild_all(db: Database, now: datetime, batch: int = 500) -> int:
    """A whole run now, whether one was due or not; how many members it evaluated."""
    async with db.unit_of_work() as uow:
        state = await uow.session.get(RfmState, STATE_ID)
        if state is not None:
            state.started_at = state.finished_at = None
            state.cursor = 0
        await uow.commit()
    total = 0
    while (count := await rebuild_step(db, now, batch)) > 0:
        total += count
        if count < batch:
            break
    return total
