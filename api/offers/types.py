"""GraphQL types of personalised offers, as the member app's contract names them.

`Offer` is a Relay node: the offer as the signed-in member sees it (its state for them and
their coupon code). The `offersChanged` subscription sends the same type."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.ids import row_id
from api.offers.inputs import OfferActivation, OfferKind, OfferLifecycle
from loyalty.auth.apikeys import Integration
from loyalty.offers.ranking import Score

if TYPE_CHECKING:
    from loyalty.offers.models import Offer as OfferRow
    from loyalty.offers.service import MemberOfferView


@strawberry.enum
class OfferState(Enum):
    AVAILABLE = "available"
    ACTIVATED = "activated"
    REDEEMED = "redeemed"
    EXPIRED = "expired"


@strawberry.type(description="One part of an offer's score, already weighted.")
class OfferScorePart:
    name: str
    value: float


@strawberry.type(description="An offer's score for one member: the parts add up to the total.")
class OfferScore:
    total: float
    parts: list[OfferScorePart]


@strawberry.type
class Offer(relay.Node):
    id: relay.NodeID[int]
    title: str
    description: str | None
    terms: str | None
    image_url: str | None
    kind: OfferKind
    state: OfferState
    valid_from: datetime | None
    valid_until: datetime | None
    coupon_code: str | None = strawberry.field(
        description="Show this at the till; null until the offer is activated."
    )
    rank: strawberry.Private[Score | None] = None

    @strawberry.field(
        description="Why the offer comes where it does in the member's list: the total and "
        "its weighted parts (affinity, value, urgency, novelty, context). For admin keys "
        "only; null for others and outside a list."
    )
    def score(self, info: Info[Context, None]) -> OfferScore | None:
        principal = info.context.principal
        if self.rank is None or not (
            isinstance(principal, Integration) and principal.allows("admin")
        ):
            return None
        return OfferScore(
            total=self.rank.total,
            parts=[OfferScorePart(name=p.name, value=p.value) for p in self.rank.parts],
        )

    @classmethod
    def of_view(cls, view: MemberOfferView) -> Offer:
        row = view.offer
        return cls(
            id=row.id,
            title=row.title,
            description=row.description,
            terms=row.terms,
            image_url=row.image_url,
            kind=OfferKind(row.kind),
            state=OfferState(view.state),
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            coupon_code=view.coupon_code,
            rank=view.score,
        )

    @classmethod
    def of_payload(cls, data: dict[str, Any]) -> Offer:
        return cls(
            id=int(data["id"]),
            title=str(data["title"]),
            description=data.get("description"),
            terms=data.get("terms"),
            image_url=data.get("image_url"),
            kind=OfferKind(data.get("kind", "bonus_points")),
            state=OfferState(data.get("state", "available")),
            valid_from=_when(data.get("valid_from")),
            valid_until=_when(data.get("valid_until")),
            coupon_code=data.get("coupon_code"),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Offer | None]:
        member_id = getattr(info.context.principal, "member_id", None)
        found: list[Offer | None] = []
        for node_id in node_ids:
            view = (
                await info.context.services.offers.offer(member_id, row_id(node_id))
                if member_id is not None
                else None
            )
            found.append(cls.of_view(view) if view is not None else None)
        return found


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@strawberry.type(
    description="An offer as those who manage it see it: its definition's main fields, its "
    "own state and version, and its counters. Admin keys only."
)
class OfferDefinition(relay.Node):
    id: relay.NodeID[int]
    key: str
    title: str
    kind: OfferKind
    state: OfferLifecycle
    version: int
    source: str = strawberry.field(description="programme (the file) or admin (this API).")
    activation: OfferActivation
    valid_from: datetime | None
    valid_until: datetime | None
    per_member_limit: int | None
    global_limit: int | None
    activated_count: int
    redeemed_count: int
    points_budget: int | None
    points_budget_spent: int

    @classmethod
    def of_row(cls, row: OfferRow) -> OfferDefinition:
        return cls(
            id=row.id,
            key=row.key,
            title=row.title,
            kind=OfferKind(row.kind),
            state=OfferLifecycle(row.state),
            version=row.version,
            source=row.source,
            activation=OfferActivation(row.activation),
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            per_member_limit=row.per_member_limit,
            global_limit=row.global_limit,
            activated_count=row.activated_count,
            redeemed_count=row.redeemed_count,
            points_budget=row.points_budget,
            points_budget_spent=row.points_budget_spent,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[OfferDefinition | None]:
        principal = info.context.principal
        if not (isinstance(principal, Integration) and principal.allows("admin")):
            return [None for _ in node_ids]
        rows = [await info.context.services.offer_admin.definition(row_id(i)) for i in node_ids]
        return [cls.of_row(r) if r is not None else None for r in rows]
