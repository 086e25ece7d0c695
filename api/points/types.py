"""GraphQL types of points: balance, history entries, tiers, purchases."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.permissions import visible_nodes

if TYPE_CHECKING:
    from loyalty.offers.till import Applied
    from loyalty.offers.till_service import AppliedOffer
    from loyalty.points import balances
    from loyalty.points.models import LedgerEntry
    from loyalty.points.models import Purchase as PurchaseRow
    from loyalty.programme.spec import TierLevel as TierLevelSpec
    from loyalty.tiers.service import TierStatus


@strawberry.enum(description="What changed the points.")
class TransactionKind(Enum):
    EARN = "earn"
    BONUS = "bonus"
    SPEND = "spend"
    EXPIRE = "expire"
    REVERSE = "reverse"
    ADJUST = "adjust"
    REFUND = "refund"


@strawberry.type(description="Points that expire together at the soonest coming expiry.")
class ExpiringPoints:
    points: int
    expires_at: datetime


@strawberry.type
class Balance:
    available: int = strawberry.field(description="Points the member can spend now.")
    pending: int = strawberry.field(description="Points still in their pending period.")
    lifetime_earned: int
    debt: int = strawberry.field(description="Points owed after returns, paid from new points.")
    expiring_soon: ExpiringPoints | None = strawberry.field(
        description="The next points to expire, within the programme's warning period."
    )

    @classmethod
    def of(cls, b: balances.Balance) -> Balance:
        return cls(
            available=b.available,
            pending=b.pending,
            lifetime_earned=b.lifetime_earned,
            debt=b.debt,
            expiring_soon=(
                ExpiringPoints(points=b.expiring_points, expires_at=b.expiring_at)
                if b.expiring_at and b.expiring_points
                else None
            ),
        )


@strawberry.type
class PointsTransaction(relay.Node):
    id: relay.NodeID[int]
    kind: TransactionKind
    points: int
    description: str
    occurred_at: datetime
    available_at: datetime | None
    expires_at: datetime | None
    member_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: LedgerEntry) -> PointsTransaction:
        return cls(
            id=row.id,
            kind=TransactionKind(row.kind),
            points=row.points,
            description=row.description,
            occurred_at=row.occurred_at,
            # Only credits have these; spends and expiries say nothing about availability.
            available_at=row.available_at if row.points > 0 else None,
            expires_at=row.expires_at if row.points > 0 else None,
            member_id=row.member_id,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[PointsTransaction | None]:
        return await visible_nodes(info, info.context.loaders.points.entry, node_ids, cls.from_row)


@strawberry.type
class TierLevel:
    key: str
    name: str
    threshold: int
    benefits: list[str]
    earn_multiplier: Decimal

    @classmethod
    def of(cls, spec: TierLevelSpec) -> TierLevel:
        return cls(
            key=spec.key,
            name=spec.name,
            threshold=spec.threshold,
            benefits=list(spec.benefits),
            earn_multiplier=spec.earn_multiplier,
        )


@strawberry.type
class TierProgress:
    qualifying_points: int = strawberry.field(
        description="Points (or whole currency units, for spend-based tiers) in the window."
    )
    points_to_next_tier: int | None
    period_ends_at: datetime | None = strawberry.field(
        description="When the qualification period ends (null for a rolling window)."
    )


@strawberry.type(description="The member's tier and the way to the next one.")
class MemberTier:
    key: str
    name: str
    benefits: list[str]
    earn_multiplier: Decimal
    next_tier: TierLevel | None
    progress: TierProgress
    guaranteed_until: datetime | None = strawberry.field(
        description="A tier set by staff holds at least until then."
    )

    @classmethod
    def of(cls, status: TierStatus) -> MemberTier:
        return cls(
            key=status.level.key,
            name=status.level.name,
            benefits=list(status.level.benefits),
            earn_multiplier=status.level.earn_multiplier,
            next_tier=TierLevel.of(status.next_level) if status.next_level else None,
            progress=TierProgress(
                qualifying_points=status.qualifying,
                points_to_next_tier=status.to_next,
                period_ends_at=status.period_ends_at,
            ),
            guaranteed_until=status.floor_until if status.floor else None,
        )


@strawberry.type
class Purchase(relay.Node):
    id: relay.NodeID[int]
    external_id: str
    occurred_at: datetime
    store: str | None
    currency: str
    total: Decimal
    points_earned: int
    points_pending: int
    points_reversed: int = strawberry.field(
        description="Points the purchase's returns took back from the member (or left owed "
        "as debt); waived points are not included."
    )
    points_waived: int = strawberry.field(
        description="Points the purchase's returns undid but did not take, the balance being "
        "too low and no debt allowed."
    )

    @strawberry.field(
        description="The offers this purchase got: what each gave, and why it was chosen."
    )
    async def offers_applied(self, info: Info[Context, None]) -> list[OfferApplied]:
        found = await info.context.services.till_offers.applied([self.id])
        return [OfferApplied.of(applied) for applied in found[self.id]]

    @classmethod
    def from_row(cls, row: PurchaseRow) -> Purchase:
        return cls(
            id=row.id,
            external_id=row.external_id,
            occurred_at=row.occurred_at,
            store=row.store,
            currency=row.currency,
            total=row.total,
            points_earned=row.points_earned,
            points_pending=row.points_pending,
            points_reversed=row.points_reversed - row.points_waived,
            points_waived=row.points_waived,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Purchase | None]:
        return await visible_nodes(
            info, info.context.loaders.points.purchase, node_ids, cls.from_row
        )


@strawberry.type(description="One offer given at the till: its points, its discount and why.")
class OfferApplied:
    offer_id: strawberry.ID = strawberry.field(description="The offer's id (an `Offer` node).")
    offer_key: str
    title: str
    applied: bool = strawberry.field(
        description="False: it would have applied, but its points budget or limit did not "
        "allow it (all or nothing); the explanation says why."
    )
    points: int = strawberry.field(description="Extra points, credited with the purchase's.")
    points_reversed: int = strawberry.field(description="Of those, taken back by returns.")
    discount: Decimal = strawberry.field(
        description="Money off the lines the offer applies to (the till deducts it)."
    )
    explanation: str = strawberry.field(
        description='Why it applied, e.g. "best in group weekend: 120 points beats 80 points".'
    )

    @classmethod
    def of(cls, applied: AppliedOffer) -> OfferApplied:
        return cls(
            offer_id=strawberry.ID(ids.sealed("Offer", applied.offer_id)),
            offer_key=applied.offer_key,
            title=applied.title,
            applied=applied.applied,
            points=applied.points,
            points_reversed=applied.points_reversed,
            discount=applied.discount,
            explanation=applied.explanation,
        )

    @classmethod
    def of_preview(cls, applied: Applied) -> OfferApplied:
        offer = applied.offer
        return cls(
            offer_id=strawberry.ID(ids.sealed("Offer", offer.id)),
            offer_key=offer.key,
            title=offer.title,
            applied=applied.given,
            points=applied.points,
            points_reversed=0,
            discount=applied.discount,
            explanation=f"{offer.key}: {applied.explanation}",
        )


@strawberry.type
class EarnBreakdown:
    rule: str
    points: int
    description: str


@strawberry.type(description="What a basket would earn, without recording anything.")
class PurchasePreview:
    points: int = strawberry.field(description="Everything the basket would earn, offers included.")
    awards: list[EarnBreakdown]
    offers_applied: list[OfferApplied] = strawberry.field(
        default_factory=list,
        description="The offers it would get, as recording it would give them.",
    )
    discount: Decimal = strawberry.field(
        default=Decimal(0), description="The offers' discounts together."
    )


@strawberry.type(description="Outstanding points and what they are worth.")
class ProgrammeLiability:
    currency: str
    point_value: Decimal
    available_points: int
    pending_points: int
    outstanding_points: int
    value: Decimal
