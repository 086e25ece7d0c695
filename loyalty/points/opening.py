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
from loyalty.points.activities import Activity, record_activities
from loyalty.points.balances import balance_events
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


@dataclass(frozen=True)
class Opening:
    """A member who came from another platform: the activity that records it and the lots
    they bring."""

    member: Member
    activity: Activity
    lots: Sequence[OpeningLot] = ()


def opening_key(member_id: int, index: int) -> str:
    return f"{SOURCE}:opening:{member_id}:{index}"


async def credit_openings(
    s: AsyncSession,
    openings: Sequence[tuple[PointAccount, Sequence[OpeningLot]]],
    *,
    file: ProgrammeFile,
    now: datetime,
    actor: str,
) -> dict[int, list[LedgerEntry]]:
    """Credit each account's lots in the caller's transaction (the accounts locked), by
    member. Each lot's entry carries an idempotency key of its own: crediting a member's
    opening balance twice fails on the ledger's unique key instead of doubling it."""
    zone = file.programme.zone
    lots = []
    for account, opening in openings:
        for index, lot in enumerate(opening):
            key = opening_key(account.member_id, index)
            meta = ledger.EntryMeta(
                "Opening balance (imported)", source_type=SOURCE, actor=actor, idempotency_key=key
            )
            expires_at = lot.expires_at or expiry_of(file.points.expiry, lot.earned_at, zone)
            credit = ledger.Credit("adjust", lot.points, meta)
            available_at = min(lot.earned_at, now)
            lots.append(ledger.NewLot(account, credit, lot.earned_at, available_at, expires_at))
    if not lots:
        return {}
    by_member: dict[int, list[LedgerEntry]] = {}
    for entry in await ledger.credit_lots(s, lots, now=now, counts_as_earned=False):
        by_member.setdefault(entry.member_id, []).append(entry)
    await balance_events(s, by_member, now)
    return by_member


async def open_accounts(
    s: AsyncSession,
    openings: Sequence[Opening],
    *,
    file: ProgrammeFile,
    now: datetime,
    actor: str,
) -> dict[int, list[LedgerEntry]]:
    """Members who came from another platform: the activities that record it (the event
    rules may reward them) and their opening balances, in the caller's transaction, in a
    few statements however many members there are."""
    accounts = await ledger.lock_accounts(s, [o.member.id for o in openings], now)
    recorded = [(o.member, accounts[o.member.id], o.activity) for o in openings]
    await record_activities(s, recorded, now, actor)
    lots = [(accounts[o.member.id], o.lots) for o in openings]
    return await credit_openings(s, lots, file=file, now=now, actor=actor)
