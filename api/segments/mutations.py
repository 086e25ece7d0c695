"""Segment mutations (admin): make a segment, change one made through the API. Its members
are worked out before the answer comes back."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.permissions import require_scope
from api.segments.inputs import CreateSegmentInput, UpdateSegmentInput
from api.segments.types import Segment
from loyalty.core.errors import DomainError
from loyalty.segments.service import SegmentInput


@strawberry.type
class SegmentPayload:
    segment: Segment | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _rules(value: object) -> dict[str, object] | None:
    return value if isinstance(value, dict) else None


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(description="Make a segment (admin); its members are found at once.")
    async def create_segment(
        self, info: Info[Context, None], input: CreateSegmentInput
    ) -> SegmentPayload:
        require_scope(info, "admin")
        data = SegmentInput(
            key=input.key,
            name=input.name,
            description=input.description,
            rules=_rules(input.rules) or {"invalid": input.rules},
        )
        try:
            row = await info.context.services.segments.create(data)
        except DomainError as exc:
            return SegmentPayload(user_errors=user_errors(exc))
        return SegmentPayload(segment=Segment.from_row(row))

    @strawberry.mutation(
        description="Change a segment made through the API (admin); its members follow at once."
    )
    async def update_segment(
        self, info: Info[Context, None], input: UpdateSegmentInput
    ) -> SegmentPayload:
        require_scope(info, "admin")
        segment_id = ids.decode(input.segment_id, "Segment", "segmentId")
        rules = None if input.rules is None else _rules(input.rules) or {"invalid": input.rules}
        data = SegmentInput(name=input.name, description=input.description, rules=rules)
        try:
            row = await info.context.services.segments.update(segment_id, data)
        except DomainError as exc:
            return SegmentPayload(user_errors=user_errors(exc))
        return SegmentPayload(segment=Segment.from_row(row))
