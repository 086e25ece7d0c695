"""The read model of segments for the admin API: the segments, how many members each has,
a segment's members page by page, each member's memberships, and members' insights (all
batched for loaders)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select

from loyalty.core.clock import Clock
from loyalty.programme.store import current_file
from loyalty.segments.facts import MemberProfile, load_profiles
from loyalty.segments.models import Segment, SegmentMembership
from loyalty.segments.rfm import stored_cuts
from loyalty.storage.database import Database


class SegmentReads:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def insights(self, member_ids: Sequence[int]) -> list[MemberProfile | None]:
        """Each member as the rules see them now: lifecycle stage, churn risk and its parts,
        RFM quintiles against the last rebuild's cut points (None: no such member)."""
        now = self.clock.now()
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            file = await current_file(s)
            profiles = await load_profiles(s, member_ids, file, await stored_cuts(s), [], now)
        found = {p.member_id: p for p in profiles}
        return [found.get(i) for i in member_ids]

    async def page(self, limit: int, after_id: int | None) -> list[Segment]:
        """Active segments in id order, after `after_id`."""
        query = select(Segment).where(Segment.active).order_by(Segment.id).limit(limit)
        if after_id is not None:
            query = query.where(Segment.id > after_id)
        async with self.db.unit_of_work(write=False) as uow:
            return list(await uow.session.scalars(query))

    async def by_ids(self, ids: Sequence[int]) -> list[Segment | None]:
        async with self.db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(
                select(Segment).where(Segment.id.in_(ids), Segment.active)
            )
            found = {r.id: r for r in rows}
        return [found.get(i) for i in ids]

    async def member_counts(self, segment_ids: Sequence[int]) -> list[int]:
        async with self.db.unit_of_work(write=False) as uow:
            rows = await uow.session.execute(
                select(SegmentMembership.segment_id, func.count())
                .where(SegmentMembership.segment_id.in_(segment_ids))
                .group_by(SegmentMembership.segment_id)
            )
            counts = {segment_id: int(n) for segment_id, n in rows}
        return [counts.get(i, 0) for i in segment_ids]

    async def member_ids(self, segment_id: int, limit: int, after_id: int | None) -> list[int]:
        """The segment's members in member-id order, after `after_id`."""
        query = (
            select(SegmentMembership.member_id)
            .where(SegmentMembership.segment_id == segment_id)
            .order_by(SegmentMembership.member_id)
            .limit(limit)
        )
        if after_id is not None:
            query = query.where(SegmentMembership.member_id > after_id)
        async with self.db.unit_of_work(write=False) as uow:
            return list(await uow.session.scalars(query))

    async def memberships_of(
        self, member_ids: Sequence[int]
    ) -> list[list[tuple[SegmentMembership, Segment]]]:
        """Each member's memberships of active segments, oldest first."""
        async with self.db.unit_of_work(write=False) as uow:
            rows = await uow.session.execute(
                select(SegmentMembership, Segment)
                .join(Segment, Segment.id == SegmentMembership.segment_id)
                .where(SegmentMembership.member_id.in_(member_ids), Segment.active)
                .order_by(SegmentMembership.since, Segment.id)
            )
            found: dict[int, list[tuple[SegmentMembership, Segment]]] = defaultdict(list)
            for membership, segment in rows:
                found[membership.member_id].append((membership, segment))
        return [found.get(i, []) for i in member_ids]
