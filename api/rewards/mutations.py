"""Reward mutations: redeeming and cancelling (members), accepting codes (tills)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.permissions import require_member, require_scope
from api.points.types import Balance
from api.rewards.inputs import CancelRedemptionInput, RedeemCodeInput, RedeemRewardInput
from api.rewards.types import Redemption
from loyalty.core.errors import DomainError


@strawberry.type
class RedeemRewardPayload:
    redemption: Redemption | None = None
    balance: Balance | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CancelRedemptionPayload:
    redemption: Redemption | None = None
    balance: Balance | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RedeemCodePayload:
    redemption: Redemption | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RewardMutations:
    @strawberry.mutation(description="Spend points on a reward; returns a code for the till.")
    async def redeem_reward(
        self, info: Info[Context, None], input: RedeemRewardInput
    ) -> RedeemRewardPayload:
        principal = require_member(info)
        try:
            result = await info.context.services.rewards.redeem(
                principal.member_id,
                ids.decode(input.reward_id, "Reward", "rewardId"),
                input.idempotency_key,
            )
        except DomainError as exc:
            return RedeemRewardPayload(user_errors=user_errors(exc))
        return RedeemRewardPayload(
            redemption=Redemption.from_row(result.redemption), balance=Balance.of(result.balance)
        )

    @strawberry.mutation(description="Give back an unused redemption; the points return.")
    async def cancel_redemption(
        self, info: Info[Context, None], input: CancelRedemptionInput
    ) -> CancelRedemptionPayload:
        principal = require_member(info)
        redemption_id = ids.decode(input.redemption_id, "Redemption", "redemptionId")
        services = info.context.services
        try:
            row = await services.rewards.cancel(
                redemption_id, member_id=principal.member_id, actor="member"
            )
        except DomainError as exc:
            return CancelRedemptionPayload(user_errors=user_errors(exc))
        balance = await services.points.balance(principal.member_id)
        return CancelRedemptionPayload(
            redemption=Redemption.from_row(row), balance=Balance.of(balance)
        )

    @strawberry.mutation(
        description="Accept a reward code at the till; each code works once (pos)."
    )
    async def redeem_code(
        self, info: Info[Context, None], input: RedeemCodeInput
    ) -> RedeemCodePayload:
        integration = require_scope(info, "pos")
        try:
            row = await info.context.services.rewards.redeem_code(input.code, integration.name)
        except DomainError as exc:
            return RedeemCodePayload(user_errors=user_errors(exc))
        return RedeemCodePayload(redemption=Redemption.from_row(row))
