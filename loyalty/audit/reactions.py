"""Exports and erasures are audited whoever asks for them (a member in the app, an admin key,
the erasure job), in the same transaction as the change: an admin's mutation is recorded by
the API as well, but a member's own request and the erasure itself only here.

A till's purchase is recorded in its own transaction too, when the API armed the entry for
it (`service.armed`): with the purchase and the member, the objects its payload names."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit.service import SYSTEM, Actor, AuditRecord, record_armed, record_in
from loyalty.core.events import (
    DataExported,
    ErasureCancelled,
    ErasureRequested,
    Event,
    MemberErased,
    PurchaseRecorded,
)
from loyalty.core.reactions import Reactions


def _actor(requested_by: str | None, member_id: int | None) -> Actor:
    """`admin:<key name>` or `member` (as the privacy area writes who asked)."""
    if requested_by is None:
        return SYSTEM
    kind, _, name = requested_by.partition(":")
    if kind == "admin":
        return Actor("api_key", name or "admin")
    return Actor("member", f"member {member_id}", str(member_id))


async def _record(session: AsyncSession, event: Event, now: datetime) -> None:
    requested_by = getattr(event, "requested_by", None)
    if isinstance(event, ErasureCancelled):
        requested_by = "member"  # cancelling is the member's own (or an admin's by mutation)
    target = f"Member:{event.member_id}"
    record = AuditRecord(
        actor=_actor(requested_by, event.member_id),
        action=event.name,
        targets=[target],
        summary={k: v for k, v in event.to_payload().items() if k.endswith("_id")},
    )
    await record_in(session, record, now)


async def _purchase(session: AsyncSession, event: PurchaseRecorded, now: datetime) -> None:
    record_armed(session, [f"Purchase:{event.purchase_id}", f"Member:{event.member_id}"], now)


def register(reactions: Reactions) -> None:
    reactions.in_transaction(PurchaseRecorded, _purchase)
    for event_type in (DataExported, ErasureRequested, ErasureCancelled, MemberErased):
        reactions.in_transaction(event_type, _record)
