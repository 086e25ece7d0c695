"""Inputs of the tills and the back office: which member, which lines, what happened."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from api.core import ids
from loyalty.points.service import (
    EventInput,
    MemberRef,
    PurchaseInput,
    PurchaseLine,
    ReturnInput,
    ReturnLine,
)


@strawberry.input(description="Name the member by exactly one of these.")
class MemberReferenceInput:
    id: strawberry.ID | None = None
    member_number: str | None = None
    barcode_message: str | None = None

    def to_domain(self) -> MemberRef:
        return MemberRef(
            member_id=ids.decode(self.id, "Member", "member.id") if self.id is not None else None,
            member_number=self.member_number,
            barcode=self.barcode_message,
        )


@strawberry.input
class PurchaseLineInput:
    sku: str
    quantity: Decimal
    unit_price: Decimal = strawberry.field(description="Price of one unit, tax included.")
    category: str | None = None

    def to_domain(self) -> PurchaseLine:
        return PurchaseLine(
            sku=self.sku,
            quantity=self.quantity,
            unit_price=self.unit_price,
            category=self.category,
        )


@strawberry.input
class PurchasePreviewInput:
    lines: list[PurchaseLineInput]
    member: MemberReferenceInput | None = None
    occurred_at: datetime | None = None
    store: str | None = strawberry.field(
        default=None, description="The store's key: offers bound to stores apply there."
    )


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
    payment_fingerprint: str | None = strawberry.field(
        default=None,
        description="Optional: the payment provider's token or fingerprint of the card paid "
        "with (never a card number). Used only by the referral fraud checks, which keep it "
        "as a keyed hash; never stored as sent.",
    )

    def to_domain(self) -> PurchaseInput:
        return PurchaseInput(
            member=self.member.to_domain(),
            external_id=self.external_id,
            lines=[line.to_domain() for line in self.lines],
            occurred_at=self.occurred_at,
            store=self.store,
            currency=self.currency,
            payment_fingerprint=self.payment_fingerprint,
        )


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

    def to_domain(self) -> ReturnInput:
        return ReturnInput(
            purchase_external_id=self.purchase_external_id,
            external_id=self.external_id,
            lines=[ReturnLine(line.sku, line.quantity) for line in self.lines or ()],
            amount=self.amount,
        )


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

    def to_domain(self) -> EventInput:
        properties: dict[str, object] = self.properties if isinstance(self.properties, dict) else {}
        return EventInput(
            member=self.member.to_domain(),
            external_id=self.external_id,
            name=self.name,
            occurred_at=self.occurred_at,
            properties=properties,
        )


@strawberry.input
class AdjustPointsInput:
    member: MemberReferenceInput
    points: int = strawberry.field(description="Positive to add, negative to take away.")
    reason: str
    idempotency_key: str | None = None


@strawberry.input
class SetMemberTierInput:
    member: MemberReferenceInput
    tier: str = strawberry.field(description="The tier's key in the programme file.")
    until: datetime | None = strawberry.field(
        default=None, description="The tier is a floor until then; null: until changed."
    )
