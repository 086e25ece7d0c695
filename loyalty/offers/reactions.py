"""What the offers area does when other areas' events happen: give a purchase its offers
(`till.py`) and count a return against the offers' points (`reversal.py`), both in the same
unit of work as the purchase or return; grant or withdraw offers meant for a segment when a
member enters or leaves it (`granting.py`, after commit).

`loyalty.areas` lists offers before tiers, so a purchase's offer points are in the ledger
when tiers count the purchase (an upgrade sees them at once, in one step)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import PurchaseRecorded, PurchaseReturned, SegmentEntered, SegmentLeft
from loyalty.core.reactions import Reactions
from loyalty.offers.granting import segment_changed
from loyalty.offers.reversal import count_return
from loyalty.offers.till import apply_to_purchase
from loyalty.points.models import Purchase
from loyalty.programme.store import current_file


async def _purchase_recorded(s: AsyncSession, event: PurchaseRecorded, at: datetime) -> None:
    purchase = await s.get(Purchase, event.purchase_id)
    if purchase is not None:
        await apply_to_purchase(s, purchase, await current_file(s), at)


async def _purchase_returned(s: AsyncSession, event: PurchaseReturned, at: datetime) -> None:
    purchase = await s.get(Purchase, event.purchase_id)
    if purchase is not None:
        await count_return(s, purchase)


def register(reactions: Reactions) -> None:
    reactions.in_transaction(PurchaseRecorded, _purchase_recorded)
    reactions.in_transaction(PurchaseReturned, _purchase_returned)
    reactions.on_commit("offers.segment-offers", (SegmentEntered, SegmentLeft), segment_changed)
