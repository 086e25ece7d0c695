"""GraphQL types of the rewards catalogue and redemptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.ids import row_id
from api.core.permissions import visible_nodes

if TYPE_CHECKING:
    from loyalty.offers.coupons import CouponUse
    from loyalty.rewards.models import Redemption as RedemptionRow
    from loyalty.rewards.models import Reward as RewardRow
    from loyalty.rewards.service import RewardView


@strawberry.enum
class RewardKind(Enum):
    DISCOUNT = "discount"
    FREE_PRODUCT = "free_product"
    GIFT_CARD = "gift_card"
    EXPERIENCE = "experience"
    DONATION = "donation"


@strawberry.enum
class RedemptionStatus(Enum):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    CANCELLED = "cancelled"


@strawberry.type
class Reward(relay.Node):
    id: relay.NodeID[int]
    key: str
    name: str
    description: str | None
    image_url: str | None
    kind: RewardKind
    points_cost: int
    tiers: list[str] = strawberry.field(description="Only members of these tiers may redeem.")
    stock_left: int | None = strawberry.field(description="Null when unlimited.")
    available: bool = strawberry.field(
        description="In stock, visible, and the member may redeem it (tier, limits)."
    )
    affordable: bool = strawberry.field(description="The member has enough points now.")

    @classmethod
    def of(cls, row: RewardRow, available: bool = False, affordable: bool = False) -> Reward:
        return cls(
            id=row.id,
            key=row.key,
            name=row.name,
            description=row.description,
            image_url=row.image_url,
            kind=RewardKind(row.kind),
            points_cost=row.points_cost,
            tiers=list(row.tiers or []),
            stock_left=max(row.stock - row.issued, 0) if row.stock is not None else None,
            available=available,
            affordable=affordable,
        )

    @classmethod
    def of_view(cls, view: RewardView) -> Reward:
        return cls.of(view.reward, view.available, view.affordable)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Reward | None]:
        member_id = getattr(info.context.principal, "member_id", None)
        catalogue = await info.context.services.reads.rewards.catalogue(member_id)
        views = {v.reward.id: v for v in catalogue}
        return [cls.of_view(views[row_id(i)]) if row_id(i) in views else None for i in node_ids]


@strawberry.type
class Redemption(relay.Node):
    id: relay.NodeID[int]
    code: str = strawberry.field(description="Show this at the till; it works once.")
    status: RedemptionStatus
    points: int
    created_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    cancelled_at: datetime | None
    reward_id: strawberry.Private[int]
    member_id: strawberry.Private[int]

    @strawberry.field
    async def reward(self, info: Info[Context, None]) -> Reward | None:
        view = (await info.context.loaders.rewards.catalogue.load(self.member_id)).get(
            self.reward_id
        )
        if view is not None:
            return Reward.of_view(view)
        # No longer in the catalogue (switched off, out of its window): not redeemable now.
        row = await info.context.loaders.rewards.reward.load(self.reward_id)
        return Reward.of(row) if row else None

    @classmethod
    def from_row(cls, row: RedemptionRow) -> Redemption:
        return cls(
            id=row.id,
            code=row.code,
            status=RedemptionStatus(row.status),
            points=row.points,
            created_at=row.created_at,
            expires_at=row.expires_at,
            redeemed_at=row.redeemed_at,
            cancelled_at=row.cancelled_at,
            reward_id=row.reward_id,
            member_id=row.member_id,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Redemption | None]:
        return await visible_nodes(
            info, info.context.loaders.rewards.redemption, node_ids, cls.from_row
        )


@strawberry.type(description="An offer's coupon code taken at the till: one use of the offer.")
class OfferCouponRedemption:
    code: str
    status: str = strawberry.field(description="REDEEMED: the use is counted.")
    offer_id: strawberry.ID = strawberry.field(description="The offer's id (an `Offer` node).")
    offer_key: str
    title: str
    kind: str = strawberry.field(
        description="What the till gives: bonus_points, points_multiplier, percent_off, "
        "amount_off or free_item (points come with RecordPurchase)."
    )
    uses_left: int | None = strawberry.field(
        description="How often the member may still use it (null: no limit)."
    )

    @classmethod
    def of(cls, use: CouponUse) -> OfferCouponRedemption:
        return cls(
            code=use.application.coupon_code or "",
            status="REDEEMED",
            offer_id=strawberry.ID(ids.sealed("Offer", use.offer.id)),
            offer_key=use.offer.key,
            title=use.offer.title,
            kind=use.offer.kind,
            uses_left=use.uses_left,
        )
