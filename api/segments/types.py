"""GraphQL types of segments, as the admin contract names them: `Segment` (a node with its
members), a member's `SegmentMembership` (since when and why), `LifecycleStage` and
`ChurnRisk` with its named parts. Only an API key with the admin scope sees any of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.ids import row_id
from api.core.pagination import decode_id_cursor, encode_cursor, page_size
from api.core.permissions import require_scope

if TYPE_CHECKING:
    from api.members.types import Member
    from loyalty.segments.facts import MemberProfile
    from loyalty.segments.models import Segment as SegmentRow
    from loyalty.segments.models import SegmentMembership as MembershipRow


@strawberry.enum(
    description="Where a member is in their life with the programme, by their own rhythm."
)
class LifecycleStage(Enum):
    NEW = "new"
    ACTIVE = "active"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"


@strawberry.type(description="One named part of the churn risk; the parts add up to the score.")
class ChurnRiskPart:
    name: str
    value: float


@strawberry.type(description="How likely the member is to stop buying (0..1), and why.")
class ChurnRisk:
    score: float
    parts: list[ChurnRiskPart]

    @classmethod
    def of(cls, profile: MemberProfile) -> ChurnRisk:
        rhythm = profile.rhythm
        return cls(
            score=rhythm.churn_risk,
            parts=[ChurnRiskPart(name=n, value=v) for n, v in rhythm.churn_parts],
        )


@strawberry.type(description="A group of members described by rules (admin).")
class Segment(relay.Node):
    id: relay.NodeID[int]
    key: str
    name: str
    description: str
    source: str = strawberry.field(description="programme (the programme file) or admin.")

    @strawberry.field(description="How many members are in the segment now.")
    async def member_count(self, info: Info[Context, None]) -> int:
        return await info.context.loaders.segments.member_count.load(self.id)

    @strawberry.field(description="The segment's members, in a stable order.")
    async def members(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Annotated[Member, strawberry.lazy("api.members.types")]]:
        from api.members.types import Member

        limit = page_size(first, info.context.services.settings.max_page_size)
        after_id = decode_id_cursor("segment-members", after)
        ids = await info.context.services.reads.segments.member_ids(self.id, limit + 1, after_id)
        rows = await info.context.loaders.members.member.load_many(ids[:limit])
        edges = [
            relay.Edge(cursor=encode_cursor("segment-members", r.id), node=Member.from_row(r))
            for r in rows
            if r is not None
        ]
        return relay.Connection(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=len(ids) > limit,
                has_previous_page=after_id is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @classmethod
    def from_row(cls, row: SegmentRow) -> Segment:
        return cls(
            id=row.id, key=row.key, name=row.name, description=row.description, source=row.source
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Segment | None]:
        require_scope(info, "admin")
        rows = await info.context.loaders.segments.segment.load_many([row_id(i) for i in node_ids])
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type(description="A member's place in a segment: since when, and why.")
class SegmentMembership:
    segment: Segment
    since: datetime
    reasons: list[str]

    @classmethod
    def of(cls, membership: MembershipRow, segment: SegmentRow) -> SegmentMembership:
        return cls(
            segment=Segment.from_row(segment),
            since=membership.since,
            reasons=list(membership.reasons),
        )


@dataclass(frozen=True)
class Insight:
    stage: LifecycleStage
    churn: ChurnRisk


async def insight_of(info: Info[Context, None], member_id: int) -> Insight | None:
    """The member's lifecycle stage and churn risk now; admin only (a till or a member app
    is refused: this is the programme's view of the member)."""
    require_scope(info, "admin")
    profile = await info.context.loaders.segments.insight.load(member_id)
    if profile is None:
        return None
    return Insight(LifecycleStage(profile.rhythm.stage), ChurnRisk.of(profile))


async def memberships_of(info: Info[Context, None], member_id: int) -> list[SegmentMembership]:
    require_scope(info, "admin")
    rows = await info.context.loaders.segments.memberships.load(member_id)
    return [SegmentMembership.of(membership, segment) for membership, segment in rows]
