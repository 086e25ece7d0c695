"""Points pending until an event: a purchase's lots wait (`AWAITING_EVENT`) until the event
the programme names (`points.pending_until_event`, e.g. `order.fulfilled`) is recorded for the
same member with the purchase's external id in its property `purchaseExternalId`; they then
become available `pending_days` after the event. The release job tells the member."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.points.models import PointLot, Purchase
from loyalty.points.timeline import AWAITING_EVENT, available_from, lot_expiry
from loyalty.programme.spec import ProgrammeFile

PURCHASE_PROPERTY = "purchaseExternalId"


async def release_for_event(
    s: AsyncSession,
    member_id: int,
    name: str,
    at: datetime,
    properties: dict[str, Any],
    file: ProgrammeFile,
) -> int:
    """When `name` is the event the programme waits for, date the named purchase's waiting
    lots; returns how many lots were dated. The member's account is locked by the caller."""
    points = file.points
    external_id = properties.get(PURCHASE_PROPERTY)
    if name != points.pending_until_event or not isinstance(external_id, str):
        return 0
    purchase_id = await s.scalar(
        select(Purchase.id).where(
            Purchase.external_id == external_id, Purchase.member_id == member_id
        )
    )
    if purchase_id is None:
        return 0
    lots = list(
        await s.scalars(
            select(PointLot).where(
                PointLot.purchase_id == purchase_id, PointLot.available_at == AWAITING_EVENT
            )
        )
    )
    zone = file.programme.zone
    available_at = available_from(points.pending_days, at, zone)
    for lot in lots:
        lot.available_at = available_at
        if lot.expires_at is None:
            lot.expires_at = lot_expiry(points, lot.occurred_at, available_at, zone)
    await s.flush()
    return len(lots)
