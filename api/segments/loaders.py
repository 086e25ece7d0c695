"""DataLoaders of segments: segments by id, member counts, memberships and insights by
member, so a list of segments or members costs one query per kind, not one per row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from loyalty.segments.facts import MemberProfile
    from loyalty.segments.models import Segment, SegmentMembership
    from loyalty.segments.read import SegmentReads


class SegmentLoaders:
    def __init__(self, reads: SegmentReads, *, cache: bool = True) -> None:
        self.segment: DataLoader[int, Segment | None] = DataLoader(
            load_fn=reads.by_ids, cache=cache
        )
        self.member_count: DataLoader[int, int] = DataLoader(
            load_fn=reads.member_counts, cache=cache
        )
        self.memberships: DataLoader[int, list[tuple[SegmentMembership, Segment]]] = DataLoader(
            load_fn=reads.memberships_of, cache=cache
        )
        self.insight: DataLoader[int, MemberProfile | None] = DataLoader(
            load_fn=reads.insights, cache=cache
        )
