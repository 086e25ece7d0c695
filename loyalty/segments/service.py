"""Segments through the admin API: make and change a segment (its members are worked out at
once, a batch per transaction), and rebuild everything now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.members.models import Member
from loyalty.programme.segments_spec import SegmentSpec
from loyalty.segments.catalogue import ADMIN, PROGRAMME, columns
from loyalty.segments.errors import SegmentsError
from loyalty.segments.membership import refresh_members
from loyalty.segments.models import Segment
from loyalty.segments.rebuild import rebuild_all
from loyalty.storage.database import Database

BATCH = 500


@dataclass(frozen=True)
class SegmentInput:
    """A segment as the admin gives it; None leaves a field unchanged on update."""

    key: str | None = None
    name: str | None = None
    description: str | None = None
    rules: Mapping[str, Any] | None = None


def _spec(data: Mapping[str, Any]) -> SegmentSpec:
    """The segment checked exactly as the programme file's section is."""
    try:
        return SegmentSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise ValidationFailed(
            [
                DomainError(
                    SegmentsError.INVALID_SEGMENT,
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}",
                    str(e["loc"][0]) if e["loc"] else None,
                )
                for e in exc.errors()
            ]
        ) from None


def _refused(code: SegmentsError, message: str, field: str) -> DomainError:
    return DomainError(code, message, field)


class SegmentsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(self, data: SegmentInput) -> Segment:
        spec = _spec(
            {
                "key": data.key,
                "name": data.name,
                "description": data.description or "",
                "rules": data.rules,
            }
        )
        now = self.clock.now()
        try:
            async with self.db.unit_of_work() as uow:
                s = uow.session
                if await s.scalar(select(Segment.id).where(Segment.key == spec.key)):
                    raise _refused(SegmentsError.SEGMENT_KEY_TAKEN, "That key is taken", "key")
                segment = Segment(
                    key=spec.key,
                    source=ADMIN,
                    active=True,
                    created_at=now,
                    updated_at=now,
                    **columns(spec),
                )
                s.add(segment)
                await uow.commit()
        except IntegrityError:
            raise _refused(SegmentsError.SEGMENT_KEY_TAKEN, "That key is taken", "key") from None
        await self._populate(segment)
        return segment

    async def update(self, segment_id: int, data: SegmentInput) -> Segment:
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            segment = await uow.session.get(Segment, segment_id)
            if segment is None or not segment.active:
                raise _refused(SegmentsError.SEGMENT_NOT_FOUND, "No such segment", "segmentId")
            if segment.source == PROGRAMME:
                raise _refused(
                    SegmentsError.SEGMENT_FROM_PROGRAMME,
                    "This segment is defined in the programme file; change it there",
                    "segmentId",
                )
            spec = _spec(
                {
                    "key": segment.key,
                    "name": data.name if data.name is not None else segment.name,
                    "description": (
                        data.description if data.description is not None else segment.description
                    ),
                    "rules": data.rules if data.rules is not None else segment.rules,
                }
            )
            for name, value in columns(spec).items():
                setattr(segment, name, value)
            segment.updated_at = now
            await uow.commit()
        await self._populate(segment)
        return segment

    async def _populate(self, segment: Segment) -> None:
        """Evaluate every member against this one segment, a batch per transaction."""
        after = 0
        while True:
            async with self.db.unit_of_work() as uow:
                s = uow.session
                ids = list(
                    await s.scalars(
                        select(Member.id).where(Member.id > after).order_by(Member.id).limit(BATCH)
                    )
                )
                await refresh_members(s, ids, self.clock.now(), only=[segment])
                await uow.commit()
            if len(ids) < BATCH:
                return
            after = ids[-1]

    async def rebuild(self) -> int:
        """Fresh RFM cut points and every member re-evaluated now."""
        return await rebuild_all(self.db, self.clock.now(), BATCH)
