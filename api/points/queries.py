"""Point queries for tills and admins: what a basket would earn, the programme's liability."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import ApiError
from api.permissions import require_scope
from api.points.inputs import MemberReferenceInput, PurchaseLineInput
from api.points.types import EarnBreakdown, ProgrammeLiability, PurchasePreview
from loyalty.core.errors import DomainError
from loyalty.reports.liability import liability


@strawberry.input
class PurchasePreviewInput:
    lines: list[PurchaseLineInput]
    member: MemberReferenceInput | None = None
    occurred_at: datetime | None = None


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
            raise ApiError("BAD_USER_INPUT", exc.message) from None
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
        services = info.context.services
        async with services.db.unit_of_work(write=False) as uow:
            report = await liability(uow.session, services.clock.now())
        return ProgrammeLiability(
            currency=report.currency,
            point_value=report.point_value,
            available_points=report.available,
            pending_points=report.pending,
            outstanding_points=report.outstanding,
            value=report.value,
        )
