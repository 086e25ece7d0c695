"""GraphQL types of personalised offers, as the member app's contract names them.

`Offer` is a Relay node: the offer as the signed-in member sees it (its state for them and
their coupon code). The `offersChanged` subscription sends the same type."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.ids import row_id

if TYPE_CHECKING:
    from loyalty.offers.service import MemberOfferView


@strawberry.enum
class OfferKind(Enum):
    BONUS_POINTS = "bonus_points"
    POINTS_MULTIPLIER = "points_multiplier"
    PERCENT_OFF = "percent_off"
    AMOUNT_OFF = "amount_off"
    FREE_ITEM = "free_item"


@strawberry.enum
class OfferState(Enum):
    AVAILABLE = "available"
    ACTIVATED = "activated"
    REDEEMED = "redeemed"
    EXPIRED = "expired"


@strawberry.type
class Offer(relay.Node):
    id: relay.NodeID[int]
    title: str
    description: str | None
    terms: str | None
    image_url: str | None
    kind: OfferKind
    state: OfferState
    valid_from: datetime | None
    valid_until: datetime | None
    coupon_code: str | None = strawberry.field(
        description="Show this at the till; null until the offer is activated."
    )

    @classmethod
    def of_view(cls, view: MemberOfferView) -> Offer:
        row = view.offer
        return cls(
            id=row.id,
            title=row.title,
            description=row.description,
            terms=row.terms,
            image_url=row.image_url,
            kind=OfferKind(row.kind),
            state=OfferState(view.state),
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            coupon_code=view.coupon_code,
        )

    @classmethod
    def of_payload(cls, data: dict[str, Any]) -> Offer:
        return cls(
            id=int(data["id"]),
            title=str(data["title"]),
            description=data.get("description"),
            terms=data.get("terms"),
            image_url=data.get("image_url"),
            kind=OfferKind(data.get("kind", "bonus_points")),
            state=OfferState(data.get("state", "available")),
            valid_from=_when(data.get("valid_from")),
            valid_until=_when(data.get("valid_until")),
            coupon_code=data.get("coupon_code"),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Offer | None]:
        member_id = getattr(info.context.principal, "member_id", None)
        found: list[Offer | None] = []
        for node_id in node_ids:
            view = (
                await info.context.services.offers.offer(member_id, row_id(node_id))
                if member_id is not None
                else None
            )
            found.append(cls.of_view(view) if view is not None else None)
        return found


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
