"""Keeping the `segments` table in step with the programme file, and the admin's own segments.

A segment in the file is added or updated by key (a segment made through the API with the
same key becomes the file's); a programme segment no longer in the file is switched off and
emptied, each member hearing `segment.left`. A segment whose rules changed is re-evaluated
by the next rebuild (`due_for_rebuild`), which the install asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.programme.segments_spec import SegmentSpec
from loyalty.segments.membership import leave_all
from loyalty.segments.models import RfmState, Segment
from loyalty.segments.rfm import STATE_ID

PROGRAMME, ADMIN = "programme", "admin"


def columns(spec: SegmentSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "rules": spec.rules.model_dump(mode="json", exclude_none=True),
    }


async def sync_segments(s: AsyncSession, specs: Sequence[SegmentSpec], now: datetime) -> None:
    """Run after `apply_programme`, in the same unit of work."""
    existing = {g.key: g for g in await s.scalars(select(Segment))}
    changed = False
    for spec in specs:
        values = columns(spec)
        segment = existing.pop(spec.key, None)
        if segment is None:
            s.add(Segment(key=spec.key, source=PROGRAMME, created_at=now, updated_at=now, **values))
            changed = True
        elif (
            any(getattr(segment, k) != v for k, v in values.items())
            or segment.source != PROGRAMME
            or not segment.active
        ):
            for name, value in values.items():
                setattr(segment, name, value)
            segment.source, segment.active, segment.updated_at = PROGRAMME, True, now
            changed = True
    for segment in existing.values():
        if segment.source == PROGRAMME and segment.active:
            segment.active, segment.updated_at = False, now
            await leave_all(s, segment, now)
    await s.flush()
    if changed:
        await due_for_rebuild(s)


async def due_for_rebuild(s: AsyncSession) -> None:
    """Make the rebuild job start a new full run at its next round."""
    state = await s.get(RfmState, STATE_ID)
    if state is not None:
        state.finished_at = None
        state.started_at = None
        state.cursor = 0
