"""Erasing a member: requested, with a grace period in which it can be cancelled, then done
in place by every registered holding in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError, NotFound
from loyalty.core.events import ErasureCancelled, ErasureRequested, MemberErased
from loyalty.core.outbox import emit
from loyalty.core.personal import keyring_of
from loyalty.core.personal_data import PersonalDataRegistry
from loyalty.members.models import Member
from loyalty.privacy.errors import PrivacyError
from loyalty.privacy.models import MemberErasure

SCHEDULED = "scheduled"
CANCELLED = "cancelled"
COMPLETED = "completed"


async def pending_erasure(session: AsyncSession, member_id: int) -> MemberErasure | None:
    found: MemberErasure | None = await session.scalar(
        select(MemberErasure).where(
            MemberErasure.member_id == member_id, MemberErasure.state == SCHEDULED
        )
    )
    return found


async def schedule(
    session: AsyncSession, member_id: int, *, requested_by: str, now: datetime, grace: timedelta
) -> MemberErasure:
    member = await session.get(Member, member_id, with_for_update=True)
    if member is None:
        raise NotFound("Member")
    if member.status == "erased":
        raise DomainError(PrivacyError.MEMBER_ERASED, "This member has already been erased")
    if await pending_erasure(session, member_id) is not None:
        raise DomainError(
            PrivacyError.ERASURE_PENDING, "An erasure of this member is already scheduled"
        )
    erasure = MemberErasure(
        member_id=member_id,
        state=SCHEDULED,
        requested_by=requested_by[:120],
        requested_at=now,
        scheduled_for=now + grace,
        fingerprints=[],
    )
    session.add(erasure)
    await session.flush()
    event = ErasureRequested(
        member_id=member_id,
        erasure_id=erasure.id,
        requested_by=erasure.requested_by,
        scheduled_for=erasure.scheduled_for,
    )
    emit(session, event, now)
    return erasure


async def cancel(
    session: AsyncSession, member_id: int, now: datetime, erasure_id: int | None = None
) -> MemberErasure:
    erasure = await pending_erasure(session, member_id)
    if erasure is None or (erasure_id is not None and erasure.id != erasure_id):
        raise DomainError(
            PrivacyError.NO_PENDING_ERASURE, "There is no scheduled erasure to cancel", "erasureId"
        )
    erasure.state = CANCELLED
    erasure.cancelled_at = now
    emit(session, ErasureCancelled(member_id=member_id, erasure_id=erasure.id), now)
    await session.flush()
    return erasure


async def carry_out(
    session: AsyncSession, registry: PersonalDataRegistry, erasure: MemberErasure, now: datetime
) -> None:
    """Erase in place: fingerprints of what is about to go first, then every holding."""
    keyring = keyring_of(session)
    values: set[str] = set()
    for holding in registry.holdings:
        if holding.values is not None:
            values.update(await holding.values(session, erasure.member_id))
    for holding in registry.holdings:
        await holding.erase(session, erasure.member_id, now)
    erasure.fingerprints = sorted(
        {f"{len(v.casefold())}:{keyring.fingerprint(v)}" for v in values if len(v) >= 3}
    )
    erasure.state = COMPLETED
    erasure.completed_at = now
    emit(session, MemberErased(member_id=erasure.member_id, erasure_id=erasure.id), now)
    await session.flush()


async def due(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    rows = await session.scalars(
        select(MemberErasure.id)
        .where(MemberErasure.state == SCHEDULED, MemberErasure.scheduled_for <= now)
        .order_by(MemberErasure.scheduled_for, MemberErasure.id)
        .limit(limit)
    )
    return list(rows)
