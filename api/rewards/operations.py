"""The rewards catalogue, redeeming rewards (members) and codes (tills)."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from api import ids
from api.context import Context
from api.errors import UserError, user_errors
from api.pagination import decode_id_cursor, encode_cursor, page_size
from api.permissions import require_member, require_scope
from api.points.types import Balance
from api.rewards.types import Redemption, Reward
from loyalty.core.errors import DomainError


@strawberry.input
class RedeemRewardInput:
    reward_id: strawberry.ID
    idempotency_key: str = strawberry.field(
        description="Made by the app per tap; a retry with the same key redeems once."
    )


@strawberry.type
class RedeemRewardPayload:
    redemption: Redemption | None = None
    balance: Balance | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CancelRedemptionInput:
    redemption_id: strawberry.ID


@strawberry.type
class CancelRedemptionPayload:
    redemption: Redemption | None = None
    balance: Balance | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RedeemCodeInput:
    code: str


@strawberry.type
class RedeemCodePayload:
    redemption: Redemption | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RewardQueries:
    @strawberry.field(description="The rewards catalogue, as the signed-in member sees it.")
    async def rewards(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Reward]:
        limit = page_size(first, info.context.services.settings.max_page_size)
        start = decode_id_cursor("rewards", after)
        start = start + 1 if start is not None else 0
        member_id = getattr(info.context.principal, "member_id", None)
        views = await info.context.services.rewards.catalogue(member_id)
        page = views[start : start + limit]
        edges = [
            relay.Edge(cursor=encode_cursor("rewards", start + i), node=Reward.of_view(v))
            for i, v in enumerate(page)
        ]
        return relay.Connection(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=start + limit < len(views),
                has_previous_page=start > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


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
