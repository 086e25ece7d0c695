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
from api.rewards.types import OfferCouponRedemption, Redemption
from loyalty.core.errors import DomainError
from loyalty.offers.errors import OffersError
from loyalty.rewards.errors import RewardsError


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
    redemption: Redemption | None = strawberry.field(
        default=None, description="The reward redemption the code belonged to."
    )
    offer_redemption: OfferCouponRedemption | None = strawberry.field(
        default=None, description="Or: the offer whose coupon code it was (redemption is null)."
    )
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
        services = info.context.services
        try:
            row = await services.rewards.redeem_code(input.code, integration.name)
        except DomainError as exc:
            if exc.code != RewardsError.CODE_NOT_FOUND:
                return RedeemCodePayload(user_errors=user_errors(exc))
            not_a_reward = exc
        else:
            return RedeemCodePayload(redemption=Redemption.from_row(row))
        # Not a reward's code: perhaps an offer's coupon code.
        member = input.member.to_domain() if input.member else None
        try:
            use = await services.till_offers.redeem_coupon(input.code, member, integration.name)
        except DomainError as exc:
            unknown = exc.code == OffersError.COUPON_NOT_FOUND
            return RedeemCodePayload(user_errors=user_errors(not_a_reward if unknown else exc))
        return RedeemCodePayload(offer_redemption=OfferCouponRedemption.of(use))
