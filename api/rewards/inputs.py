"""Inputs of redeeming rewards (members), cancelling redemptions, and codes (tills)."""

from __future__ import annotations

import strawberry


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
    code: str
