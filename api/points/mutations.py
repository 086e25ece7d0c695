"""Mutations of the tills and the back office: purchases, returns, events, adjustments."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.permissions import require_scope
from api.members.types import Member
from api.points.inputs import (
    AdjustPointsInput,
    RecordEventInput,
    RecordPurchaseInput,
    RecordReturnInput,
    SetMemberTierInput,
)
from api.points.types import MemberTier, PointsTransaction, Purchase
from loyalty.core.errors import CoreError, DomainError


async def _member(info: Info[Context, None], member_id: int) -> Member | None:
    row = await info.context.loaders.members.member.load(member_id)
    return Member.from_row(row) if row else None


@strawberry.type
class RecordPurchasePayload:
    purchase: Purchase | None = None
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordReturnPayload:
    points_reversed: int = strawberry.field(
        default=0,
        description="Points this return took back from the member (owed as debt when the "
        "programme allows a negative balance). Waived points are not included.",
    )
    points_waived: int = strawberry.field(
        default=0,
        description="Points this return undid but did not take, because the member had "
        "already spent them and the balance may not go below zero.",
    )
    purchase: Purchase | None = None
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordEventPayload:
    points_awarded: int = 0
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AdjustPointsPayload:
    entry: PointsTransaction | None = None
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetMemberTierPayload:
    tier: MemberTier | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PointsMutations:
    @strawberry.mutation(description="Record a sale and award its points (pos).")
    async def record_purchase(
        self, info: Info[Context, None], input: RecordPurchaseInput
    ) -> RecordPurchasePayload:
        integration = require_scope(info, "pos")
        try:
            result = await info.context.services.points.record_purchase(
                input.to_domain(), actor=integration.name
            )
        except DomainError as exc:
            return RecordPurchasePayload(user_errors=user_errors(exc))
        loaders = info.context.loaders
        if result.member is not None:
            loaders.members.member.prime(result.member.id, result.member)
        if result.balance is not None:
            loaders.points.balance.prime(result.purchase.member_id, result.balance)
        return RecordPurchasePayload(
            purchase=Purchase.from_row(result.purchase),
            member=await _member(info, result.purchase.member_id),
        )

    @strawberry.mutation(description="Take back the points of returned goods (pos).")
    async def record_return(
        self, info: Info[Context, None], input: RecordReturnInput
    ) -> RecordReturnPayload:
        integration = require_scope(info, "pos")
        try:
            result = await info.context.services.points.record_return(
                input.to_domain(), actor=integration.name
            )
        except DomainError as exc:
            return RecordReturnPayload(user_errors=user_errors(exc))
        return RecordReturnPayload(
            points_reversed=result.points_reversed,
            points_waived=result.points_waived,
            purchase=Purchase.from_row(result.purchase),
            member=await _member(info, result.purchase.member_id),
        )

    @strawberry.mutation(description="Report something a member did that may earn points (pos).")
    async def record_event(
        self, info: Info[Context, None], input: RecordEventInput
    ) -> RecordEventPayload:
        integration = require_scope(info, "pos")
        try:
            result = await info.context.services.points.record_event(
                input.to_domain(), actor=integration.name
            )
        except DomainError as exc:
            return RecordEventPayload(user_errors=user_errors(exc))
        return RecordEventPayload(
            points_awarded=result.points_awarded, member=await _member(info, result.member_id)
        )

    @strawberry.mutation(description="Correct a member's points by hand, with a reason (admin).")
    async def adjust_points(
        self, info: Info[Context, None], input: AdjustPointsInput
    ) -> AdjustPointsPayload:
        integration = require_scope(info, "admin")
        try:
            entry, _ = await info.context.services.points.adjust(
                input.member.to_domain(),
                input.points,
                input.reason,
                actor=integration.name,
                idempotency_key=input.idempotency_key,
            )
        except DomainError as exc:
            return AdjustPointsPayload(user_errors=user_errors(exc))
        return AdjustPointsPayload(
            entry=PointsTransaction.from_row(entry), member=await _member(info, entry.member_id)
        )

    @strawberry.mutation(description="Give a member at least a tier until a date (admin).")
    async def set_member_tier(
        self, info: Info[Context, None], input: SetMemberTierInput
    ) -> SetMemberTierPayload:
        require_scope(info, "admin")
        if input.until is not None and input.until.tzinfo is None:
            # A time without an offset cannot be compared with the clock (as for occurredAt).
            error = DomainError(CoreError.INVALID_DATE, "Times need a UTC offset", "until")
            return SetMemberTierPayload(user_errors=user_errors(error))
        try:
            status = await info.context.services.points.set_tier_floor(
                input.member.to_domain(), input.tier, input.until
            )
        except DomainError as exc:
            return SetMemberTierPayload(user_errors=user_errors(exc))
        return SetMemberTierPayload(tier=MemberTier.of(status) if status else None)
