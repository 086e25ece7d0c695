"""GraphQL types of personalised offers, as the member app's contract names them.

The offers capability (targeting, activation, coupon codes) is not built yet; these types carry
what the `offersChanged` subscription publishes for topic `offer.changed`."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry


@strawberry.enum
class OfferKind(Enum):
    DISCOUNT = "discount"
    BONUS_POINTS = "bonus_points"
    POINTS_MULTIPLIER = "points_multiplier"
    FREE_PRODUCT = "free_product"


@strawberry.enum
class OfferState(Enum):
    AVAILABLE = "available"
    ACTIVATED = "activated"
    REDEEMED = "redeemed"
    EXPIRED = "expired"


@strawberry.type
class Offer:
    id: strawberry.ID
    title: str
    description: str | None
    terms: str | None
    image_url: str | None
    kind: OfferKind
    state: OfferState
    valid_from: datetime | None
    valid_until: datetime | None
    coupon_code: str | None

    @classmethod
    def of_payload(cls, data: dict[str, Any]) -> Offer:
        return cls(
            id=strawberry.ID(str(data["id"])),
            title=str(data["title"]),
            description=data.get("description"),
            terms=data.get("terms"),
            image_url=data.get("image_url"),
            kind=OfferKind(data.get("kind", "discount")),
            state=OfferState(data.get("state", "available")),
            valid_from=_when(data.get("valid_from")),
            valid_until=_when(data.get("valid_until")),
            coupon_code=data.get("coupon_code"),
        )


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
