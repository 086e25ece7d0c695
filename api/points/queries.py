"""Point queries for tills and admins: what a basket would earn, the programme's liability."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import bad_input
from api.core.permissions import require_scope
from api.points.inputs import PurchasePreviewInput
from api.points.types import EarnBreakdown, ProgrammeLiability, PurchasePreview
from loyalty.core.errors import DomainError


@strawberry.type
class PointsQueries:
    @strawberry.field(description="What a basket would earn if paid now; records nothing (pos).")
    async def purchase_preview(
        self, info: Info[Context, None], input: PurchasePreviewInput
    ) -> PurchasePreview:
        require_scope(info, "pos")
        try:
            awards = await info.context.services.points.preview_purchase(
                input.member.to_domain() if input.member else None,
                [line.to_domain() for line in input.lines],
                input.occurred_at,
            )
        except DomainError as exc:
            raise bad_input(exc.message) from None
        return PurchasePreview(
            points=sum(a.points for a in awards),
            awards=[
                EarnBreakdown(rule=a.rule, points=a.points, description=a.description)
                for a in awards
            ],
        )

    @strawberry.field(description="Outstanding points and their money value (admin).")
    async def liability(self, info: Info[Context, None]) -> ProgrammeLiability:
        require_scope(info, "admin")
        report = await info.context.services.reads.reports.liability()
        return ProgrammeLiability(
            currency=report.currency,
            point_value=report.point_value,
            available_points=report.available,
            pending_points=report.pending,
            outstanding_points=report.outstanding,
            value=report.value,
        )
