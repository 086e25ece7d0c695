"""Manual adjustments: a correction by staff, with the reason and who made it, once per
idempotency key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError
from loyalty.core.identifiers import client_key
from loyalty.points import ledger
from loyalty.points.balances import balance, balance_event
from loyalty.points.errors import PointsError
from loyalty.points.models import LedgerEntry, PointAccount
from loyalty.points.refs import MemberRef, conflict, resolve_member
from loyalty.points.timeline import expiry_of
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database

MAX_POINTS = 10_000_000


async def adjust(
    db: Database,
    ref: MemberRef,
    points: int,
    reason: str,
    *,
    actor: str,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[LedgerEntry, bool]:
    """Add (points > 0) or take (points < 0) points; returns the entry and whether it was
    written by an earlier request with the same key."""
    try:
        return await _adjust(db, ref, points, reason, actor, idempotency_key, now)
    except IntegrityError:
        # The same idempotencyKey arrived at the same moment for another member.
        raise conflict("idempotencyKey", "another adjustment") from None


def _checked(reason: str, points: int, idempotency_key: str | None) -> tuple[str, str | None]:
    """The trimmed reason and the ledger's idempotency key, or the first problem."""
    reason = reason.strip()
    if not reason:
        raise DomainError(PointsError.REASON_REQUIRED, "Say why the points change", "reason")
    if points == 0 or abs(points) > MAX_POINTS:
        raise DomainError(PointsError.INVALID_POINTS, "Points must be non-zero and sane", "points")
    if not idempotency_key:
        return reason, None
    key = client_key(idempotency_key, "idempotencyKey", PointsError.INVALID_IDEMPOTENCY_KEY)
    return reason, f"adjust:{key}"


async def _adjust(
    db: Database,
    ref: MemberRef,
    points: int,
    reason: str,
    actor: str,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[LedgerEntry, bool]:
    reason, key = _checked(reason, points, idempotency_key)
    async with db.unit_of_work() as uow:
        s = uow.session
        member = await resolve_member(s, ref)
        account = await ledger.lock_account(s, member.id, now)
        if key is not None:
            existing = await s.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
            if existing is not None:
                if existing.member_id != member.id or existing.points != points:
                    raise conflict("idempotencyKey", "another adjustment")
                return existing, True
        file = await current_file(s)
        meta = ledger.EntryMeta(
            f"Adjusted: {reason}"[:200],
            source_type="adjustment",
            actor=actor,
            reason=reason[:500],
            idempotency_key=key,
        )
        if points > 0:
            entry = await _add(s, account, points, meta, file, now)
        else:
            entry = await _take(s, account, -points, meta, now)
        await balance_event(s, member.id, [entry], now)
        await uow.commit()
    return entry, False


async def _add(
    s: AsyncSession,
    account: PointAccount,
    points: int,
    meta: ledger.EntryMeta,
    file: ProgrammeFile,
    now: datetime,
) -> LedgerEntry:
    """Points given by staff are spendable at once and do not count as earned."""
    return await ledger.credit(
        s,
        account,
        "adjust",
        points,
        occurred_at=now,
        now=now,
        available_at=now,
        expires_at=expiry_of(file.points.expiry, now, file.programme.zone),
        meta=meta,
        counts_as_earned=False,
    )


async def _take(
    s: AsyncSession, account: PointAccount, points: int, meta: ledger.EntryMeta, now: datetime
) -> LedgerEntry:
    """Staff take only what is available: never into debt."""
    await ledger.settle(s, account, now)
    current = await balance(s, account.member_id, now)
    if current.available < points:
        raise DomainError(
            PointsError.INSUFFICIENT_POINTS,
            f"Only {max(current.available, 0)} points available to take",
            "points",
        )
    taken, _ = await ledger.debit(s, account, "adjust", points, now=now, meta=meta)
    assert taken is not None
    return taken


async def award_in(
    s: AsyncSession, member_id: int, points: int, reason: str, key: str, actor: str, now: datetime
) -> LedgerEntry:
    """Give points in the caller's transaction (a campaign's step), once per `key`: a second
    call with the same key returns the first entry and gives nothing."""
    key = f"award:{key}"[:120]
    account = await ledger.lock_account(s, member_id, now)
    existing = await s.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    if existing is not None:
        return existing
    file = await current_file(s)
    meta = ledger.EntryMeta(
        reason[:200], source_type="campaign", actor=actor, reason=reason[:500], idempotency_key=key
    )
    entry = await _add(s, account, points, meta, file, now)
    await balance_event(s, member_id, [entry], now)
    return entry
