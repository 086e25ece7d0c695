"""Offers at the till for the API: the preview of a basket's offers, the offers a recorded
purchase got, and coupon codes. Applying offers to a purchase happens in the purchase's own
unit of work (`reactions.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from loyalty.core.clock import Clock
from loyalty.offers.coupons import CouponUse, redeem_coupon
from loyalty.offers.models import Offer, OfferApplication
from loyalty.offers.till import Applied, TillBasket, plan, preview
from loyalty.points.purchases import PurchaseLine, basket
from loyalty.points.refs import MemberRef, resolve_member, when
from loyalty.programme.store import current_file
from loyalty.storage.database import Database


@dataclass(frozen=True)
class AppliedOffer:
    """What one offer gave on a purchase: for the till's receipt."""

    offer_id: int
    offer_key: str
    title: str
    applied: bool  # False: declined (its budget or limit did not allow it), with why
    points: int
    points_reversed: int
    discount: Decimal
    explanation: str


class TillOffers:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def preview(
        self,
        ref: MemberRef | None,
        lines: Sequence[PurchaseLine],
        at: datetime | None,
        store: str | None,
    ) -> list[Applied]:
        """The offers a basket would get now (or at `at`), by the same checks and combination
        as recording it; changes nothing. No member: no offers."""
        items = basket(lines)
        if ref is None:
            return []
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            member = await resolve_member(s, ref)
            file = await current_file(s)
            moment = when(at, self.clock.now())
            return preview(await plan(s, TillBasket(member.id, moment, store, items), file))

    async def applied(self, purchase_ids: Sequence[int]) -> dict[int, list[AppliedOffer]]:
        """The offers each purchase got, by purchase id, in the order they were given."""
        found: dict[int, list[AppliedOffer]] = {pid: [] for pid in purchase_ids}
        if not purchase_ids:
            return found
        async with self.db.unit_of_work(write=False) as uow:
            rows = await uow.session.execute(
                select(OfferApplication, Offer.key, Offer.title)
                .join(Offer, Offer.id == OfferApplication.offer_id)
                .where(OfferApplication.purchase_id.in_(purchase_ids))
                .order_by(OfferApplication.id)
            )
            for row, key, title in rows.all():
                assert row.purchase_id is not None
                found[row.purchase_id].append(
                    AppliedOffer(
                        row.offer_id,
                        key,
                        title,
                        row.applied,
                        row.points,
                        row.points_reversed,
                        row.discount,
                        row.explanation,
                    )
                )
        return found

    async def redeem_coupon(self, code: str, member: MemberRef | None, actor: str) -> CouponUse:
        return await redeem_coupon(self.db, code, member, actor, self.clock.now())
