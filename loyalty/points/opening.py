"""Opening balances: the points a member brings from another platform, credited as dated lots
with their own expiry, once per member (each lot's entry has its own idempotency key).

They are not earned here: like a staff adjustment they do not count towards the lifetime
earned total nor towards a tier (the import sets the tier as a floor instead)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.members.models import Member
from loyalty.points import ledger
from loyalty.points.activities import Activity, record_activity
from loyalty.points.balances import balance_event
from loyalty.points.models import LedgerEntry, PointAccount
from loyalty.points.timeline import expiry_of
from loyalty.programme.spec import ProgrammeFile

SOURCE = "import"


@dataclass(frozen=True)
class OpeningLot:
    """Points earned on `earned_at` elsewhere; they expire at `expires_at` (None: as the
    programme's expiry rule says for points earned that day)."""

    points: int
    earned_at: datetime
    expires_at: datetime | None = None


def opening_key(member_id: int, index: int) -> str:
    return f"{SOURCE}:opening:{member_id}:{index}"


async def credit_opening(
    s: AsyncSession,
    account: PointAccount,
    lots: Sequence[OpeningLot],
    *,
    file: ProgrammeFile,
    now: datetime,
    actor: str,
) -> list[LedgerEntry]:
    """Credit the lots in the caller's transaction (the member's account locked). Each lot's
    entry carries an idempotency key of its own: crediting a member's opening balance twice
    fails on the ledger's unique key instead of doubling it."""
    if not lots:
        return []
    zone = file.programme.zone
    entries = []
    for index, lot in enumerate(lots):
        key = opening_key(account.member_id, index)
        meta = ledger.EntryMeta(
            "Opening balance (imported)", source_type=SOURCE, actor=actor, idempotency_key=key
        )
        expires_at = lot.expires_at or expiry_of(file.points.expiry, lot.earned_at, zone)
        entry = await ledger.credit(
            s,
            account,
            "adjust",
            lot.points,
            occurred_at=lot.earned_at,
            now=now,
            available_at=min(lot.earned_at, now),
            expires_at=expires_at,
            meta=meta,
            counts_as_earned=False,
        )
        entries.append(entry)
    await balance_event(s, account.member_id, entries, now)
    return entries


async def open_account(
    s: AsyncSession,
    member: Member,
    activity: Activity,
    lots: Sequence[OpeningLot],
    *,
    file: ProgrammeFile,
    now: datetime,
    actor: str,
) -> list[LedgerEntry]:
    """A member who came from another platform: the activity that records it (the event
    rules may reward it) and their opening balance, in the caller's transaction."""
    account = await ledger.lock_account(s, member.id, now)
    await record_activity(s, member, account, activity, now, actor)
    return await credit_opening(s, account, lots, file=file, now=now, actor=actor)
