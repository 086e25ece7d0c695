"""What every points use case shares: naming the member, and the checks made on the way in
(an active member, a sane instant, a money amount, an idempotency conflict)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import CoreError, DomainError, NotFound
from loyalty.members import service as members
from loyalty.members.models import Member
from loyalty.points.errors import PointsError

# How far ahead of our clock a till's clock may run.
MAX_CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class MemberRef:
    """A member named by id, member number or card barcode: exactly one of them."""

    member_id: int | None = None
    member_number: str | None = None
    barcode: str | None = None


async def resolve_member(s: AsyncSession, ref: MemberRef) -> Member:
    given = [v for v in (ref.member_id, ref.member_number, ref.barcode) if v is not None]
    if len(given) != 1:
        raise DomainError(
            PointsError.INVALID_MEMBER_REFERENCE,
            "Name the member by exactly one of id, memberNumber or barcodeMessage",
            "member",
        )
    if ref.member_id is not None:
        member = await s.get(Member, ref.member_id)
    elif ref.member_number is not None:
        member = await members.member_by_number(s, ref.member_number)
    else:
        member = await members.member_by_card(s, ref.barcode or "")
    if member is None:
        raise NotFound("Member", "member")
    return member


def require_active(member: Member) -> None:
    if member.status != "active":
        raise DomainError(
            PointsError.MEMBER_NOT_ACTIVE, "This member is blocked or closed", "member"
        )


def conflict(field_name: str, other: str) -> DomainError:
    """An idempotency key (or external id) that was already used for something else."""
    return DomainError(
        CoreError.IDEMPOTENCY_CONFLICT,
        f"This {field_name} was already used for {other}",
        field_name,
    )


def when(occurred_at: datetime | None, now: datetime) -> datetime:
    """The instant a client says something happened: now when not given, never ahead of
    our clock by more than MAX_CLOCK_SKEW."""
    if occurred_at is None:
        return now
    if occurred_at.tzinfo is None:
        raise DomainError(CoreError.INVALID_DATE, "Times need a UTC offset", "occurredAt")
    if occurred_at > now + MAX_CLOCK_SKEW:
        raise DomainError(CoreError.INVALID_DATE, "occurredAt is in the future", "occurredAt")
    return occurred_at


def money(value: Decimal) -> Decimal:
    """An amount rounded to cents, half up."""
    try:
        return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise DomainError(PointsError.INVALID_AMOUNT, "Amount out of range", "amount") from None
