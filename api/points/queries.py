"""Point queries for tills and admins: what a basket would earn, the programme's liability."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import bad_input
from api.core.permissions import require_scope
from api.points.inputs import PurchasePreviewInput
from api.points.types import EarnBreakdown, OfferApplied, ProgrammeLiability, PurchasePreview
from loyalty.core.errors import DomainError


@strawberry.type
class PointsQueries:
    @strawberry.field(description="What a basket would earn if paid now; records nothing (pos).")
    async def purchase_preview(
        self, info: Info[Context, None], input: PurchasePreviewInput
    ) -> PurchasePreview:
        require_scope(info, "pos")
        services = info.context.services
        member = input.member.to_domain() if input.member else None
        lines = [line.to_domain() for line in input.lines]
        try:
            awards = await services.points.preview_purchase(member, lines, input.occurred_at)
            offers = await services.till_offers.preview(
                member, lines, input.occurred_at, input.store
            )
        except DomainError as exc:
            raise bad_input(exc.message) from None
        return PurchasePreview(
            points=sum(a.points for a in awards) + sum(o.points for o in offers),
            awards=[
                EarnBreakdown(rule=a.rule, points=a.points, description=a.description)
                for a in awards
            ],
            offers_applied=[OfferApplied.of_preview(o) for o in offers],
            discount=sum((o.discount for o in offers), Decimal(0)),
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
