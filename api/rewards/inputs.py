"""Inputs of redeeming rewards (members), cancelling redemptions, and codes (tills)."""

from __future__ import annotations

import strawberry

from api.points.inputs import MemberReferenceInput


@strawberry.input
class RedeemRewardInput:
    reward_id: strawberry.ID
    idempotency_key: str = strawberry.field(
        description="Made by the app per tap; a retry with the same key redeems once."
    )


@strawberry.input
class CancelRedemptionInput:
    redemption_id: strawberry.ID


@strawberry.input
class RedeemCodeInput:
    code: str = strawberry.field(description="A reward's code, or an offer's coupon code.")
    member: MemberReferenceInput | None = strawberry.field(
        default=None,
        description="Who shows the code: needed for an offer's shared coupon code; for a "
        "member's own code it must be that member.",
    )
