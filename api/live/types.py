"""GraphQL types of live updates: what each subscription sends, with its resume cursor."""

from __future__ import annotations

from enum import Enum

import strawberry

from api.offers.types import Offer
from api.points.types import Balance, PointsTransaction


@strawberry.type
class BalanceChangedEvent:
    cursor: str = strawberry.field(description="Pass as `after` when reconnecting.")
    balance: Balance
    entry: PointsTransaction


@strawberry.enum
class OfferChange(Enum):
    GRANTED = "granted"
    UPDATED = "updated"
    REMOVED = "removed"


@strawberry.type
class OffersChangedEvent:
    cursor: str
    change: OfferChange
    offer: Offer
