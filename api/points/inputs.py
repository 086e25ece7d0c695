"""Inputs the tills send: which member, which lines."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from api import ids
from loyalty.points.service import MemberRef, PurchaseLine


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
