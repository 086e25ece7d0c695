"""Events of the points ledger, purchases, activities, tiers and rewards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loyalty.core.event_base import Event, wire


@dataclass(frozen=True, kw_only=True)
class BalanceChanged(Event):
    name = "balance.changed"
    description = "A ledger entry changed the member's points; the balance after the change."

    entry_id: int
    kind: str
    points: int
    entry_description: str = wire("description")
    occurred_at: datetime
    available_at: datetime | None
    expires_at: datetime | None
    available: int
    pending: int
    lifetime_earned: int
    debt: int
    expiring_points: int
    expiring_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class PointsExpiring(Event):
    name = "points.expiring"
    description = "Points of the member expire soon (the expiry warning)."

    points: int
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class PurchaseRecorded(Event):
    name = "purchase.recorded"
    description = "A till or web shop recorded a purchase for the member."

    purchase_id: int
    external_id: str
    store: str | None
    currency: str
    total: Decimal
    eligible_total: Decimal
    points_earned: int
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class PurchaseReturned(Event):
    name = "purchase.returned"
    description = (
        "Goods of a purchase came back; the points taken back for them (`points_reversed`) "
        "and those the return undid but that were not taken, the balance being too low "
        "(`points_waived`)."
    )

    purchase_id: int
    purchase_external_id: str
    external_id: str
    amount: Decimal
    points_reversed: int
    points_waived: int = 0


@dataclass(frozen=True, kw_only=True)
class ActivityRecorded(Event):
    name = "activity.recorded"
    description = (
        "Something the member did (an event sent by the app or a till, or a moment such as "
        "signing up) was recorded, with the points it earned."
    )

    activity: str
    external_id: str
    points_awarded: int
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class TierChanged(Event):
    name = "tier.changed"
    description = "The member moved to another tier."

    from_tier: str = wire("from")
    to_tier: str = wire("to")
    reason: str


@dataclass(frozen=True, kw_only=True)
class RewardRedeemed(Event):
    name = "reward.redeemed"
    description = "The member exchanged points for a reward; its code is ready for the till."

    redemption_id: int
    reward_id: int
    reward_key: str
    points: int
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class RewardCodeRedeemed(Event):
    name = "reward.code_redeemed"
    description = "A till accepted the member's reward code."

    redemption_id: int
    reward_id: int


@dataclass(frozen=True, kw_only=True)
class RewardCancelled(Event):
    name = "reward.cancelled"
    description = "An unused reward code was cancelled and its points given back."

    redemption_id: int
    reward_id: int
    points: int
