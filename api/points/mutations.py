"""Mutations of the tills and the back office: purchases, returns, events, adjustments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context
from api.errors import UserError, user_errors
from api.members.types import Member
from api.permissions import require_scope
from api.points.inputs import MemberReferenceInput, PurchaseLineInput
from api.points.types import MemberTier, PointsTransaction, Purchase
from loyalty.core.errors import DomainError
from loyalty.points.service import EventInput, PurchaseInput, ReturnInput, ReturnLine


async def _member(info: Info[Context, None], member_id: int) -> Member | None:
    row = await info.context.loaders.member.load(member_id)
    return Member.from_row(row) if row else None


@strawberry.input
class RecordPurchaseInput:
    member: MemberReferenceInput
    external_id: str = strawberry.field(
        description="The till's own id of the sale; a retry with the same id changes nothing."
    )
    lines: list[PurchaseLineInput]
    occurred_at: datetime | None = None
    store: str | None = None
    currency: str | None = None


@strawberry.type
class RecordPurchasePayload:
    purchase: Purchase | None = None
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReturnLineInput:
    sku: str
    quantity: Decimal


@strawberry.input(description="Give the returned lines (preferred) or the returned amount.")
class RecordReturnInput:
    purchase_external_id: str
    external_id: str = strawberry.field(description="The till's id of the return; idempotent.")
    lines: list[ReturnLineInput] | None = None
    amount: Decimal | None = None


@strawberry.type
class RecordReturnPayload:
    points_reversed: int = 0
    purchase: Purchase | None = None
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RecordEventInput:
    member: MemberReferenceInput
    external_id: str
    name: str = strawberry.field(
        description="sign_up, profile_completed, birthday, review_written, check_in, or any "
        "app event named in the programme's earning rules."
    )
    occurred_at: datetime | None = None
    properties: JSON | None = None


@strawberry.type
class RecordEventPayload:
    points_awarded: int = 0
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class AdjustPointsInput:
    member: MemberReferenceInput
    points: int = strawberry.field(description="Positive to add, negative to take away.")
    reason: str
    idempotency_key: str | None = None


@strawberry.type
class AdjustPointsPayload:
    entry: PointsTransaction | None = None
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetMemberTierInput:
    member: MemberReferenceInput
    tier: str = strawberry.field(description="The tier's key in the programme file.")
    until: datetime | None = strawberry.field(
        default=None, description="The tier is a floor until then; null: until changed."
    )


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
                PurchaseInput(
                    member=input.member.to_domain(),
                    external_id=input.external_id,
                    lines=[line.to_domain() for line in input.lines],
                    occurred_at=input.occurred_at,
                    store=input.store,
                    currency=input.currency,
                ),
                actor=integration.name,
            )
        except DomainError as exc:
            return RecordPurchasePayload(user_errors=user_errors(exc))
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
                ReturnInput(
                    purchase_external_id=input.purchase_external_id,
                    external_id=input.external_id,
                    lines=[ReturnLine(line.sku, line.quantity) for line in input.lines or ()],
                    amount=input.amount,
                ),
                actor=integration.name,
            )
        except DomainError as exc:
            return RecordReturnPayload(user_errors=user_errors(exc))
        return RecordReturnPayload(
            points_reversed=result.points_reversed,
            purchase=Purchase.from_row(result.purchase),
            member=await _member(info, result.purchase.member_id),
        )

    @strawberry.mutation(description="Report something a member did that may earn points (pos).")
    async def record_event(
        self, info: Info[Context, None], input: RecordEventInput
    ) -> RecordEventPayload:
        integration = require_scope(info, "pos")
        properties: dict[str, object] = (
            input.properties if isinstance(input.properties, dict) else {}
        )
        try:
            result = await info.context.services.points.record_event(
                EventInput(
                    member=input.member.to_domain(),
                    external_id=input.external_id,
                    name=input.name,
                    occurred_at=input.occurred_at,
                    properties=properties,
                ),
                actor=integration.name,
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
            error = DomainError("INVALID_DATE", "Times need a UTC offset", "until")
            return SetMemberTierPayload(user_errors=user_errors(error))
        try:
            status = await info.context.services.points.set_tier_floor(
                input.member.to_domain(), input.tier, input.until
            )
        except DomainError as exc:
            return SetMemberTierPayload(user_errors=user_errors(exc))
        return SetMemberTierPayload(tier=MemberTier.of(status) if status else None)
