"""Purchases: the basket a till sends, what it would earn (the preview), and recording it
once by its external id, with its awards written as pending or spendable lots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.core.events import PurchaseRecorded
from loyalty.core.identifiers import client_key
from loyalty.core.outbox import emit
from loyalty.members.models import Member
from loyalty.points import caps, earning, ledger, purchase_context
from loyalty.points.balances import Balance, balance_event, last_balance
from loyalty.points.errors import PointsError
from loyalty.points.locking import lock_member
from loyalty.points.models import LedgerEntry, PointAccount, Purchase
from loyalty.points.payment import remember_payment
from loyalty.points.refs import MemberRef, conflict, money, require_active, resolve_member, when
from loyalty.points.timeline import lot_expiry, purchase_available_at
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers import qualification

MAX_LINES = 500
# Keeps every total within the database's money columns (12 digits before the point).
MAX_LINE_AMOUNT = Decimal(1_000_000_000)


@dataclass(frozen=True)
class PurchaseLine:
    sku: str
    quantity: Decimal
    unit_price: Decimal
    category: str | None = None


@dataclass(frozen=True)
class PurchaseInput:
    member: MemberRef
    external_id: str
    lines: Sequence[PurchaseLine]
    occurred_at: datetime | None = None
    store: str | None = None
    currency: str | None = None
    # The card's token, if the till sends one: only for the fraud checks (`payment`).
    payment_fingerprint: str | None = None


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    replayed: bool
    # What the write knew when it committed, so that its answer needs no reads afterwards.
    member: Member | None = None
    balance: Balance | None = None


def basket(lines: Sequence[PurchaseLine]) -> list[earning.BasketLine]:
    """The lines as earning reads them, or ValidationFailed with every problem found."""
    problems: list[DomainError] = []
    if not lines:
        problems.append(DomainError(PointsError.EMPTY_PURCHASE, "A purchase needs lines", "lines"))
    if len(lines) > MAX_LINES:
        problems.append(
            DomainError(PointsError.TOO_MANY_LINES, f"At most {MAX_LINES} lines", "lines")
        )
    for line in lines:
        problems.extend(_line_problems(line))
    if problems:
        raise ValidationFailed(problems)
    return [
        earning.BasketLine(
            sku=line.sku.strip(),
            category=line.category.strip() if line.category else None,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in lines
    ]


def _line_problems(line: PurchaseLine) -> list[DomainError]:
    messages = []
    if not line.sku.strip():
        messages.append("Every line needs a SKU")
    if not line.quantity.is_finite() or line.quantity <= 0:
        messages.append("Quantities must be positive")
    if not line.unit_price.is_finite() or line.unit_price < 0:
        messages.append("Prices must not be negative")
    elif line.quantity.is_finite() and line.quantity * line.unit_price > MAX_LINE_AMOUNT:
        messages.append(f"A line may be worth at most {MAX_LINE_AMOUNT}")
    return [DomainError(PointsError.INVALID_LINE, message, "lines") for message in messages]


async def preview(
    db: Database, ref: MemberRef | None, items: list[earning.BasketLine], at: datetime
) -> list[earning.Award]:
    """What a basket would earn at `at`, changing nothing (the till's dry run)."""
    async with db.unit_of_work(write=False) as uow:
        s = uow.session
        file = await current_file(s)
        if ref is None:
            ctx = earning.EarnContext(at, file.programme.zone, None, Decimal(1))
            return earning.purchase_awards(file.earning, items, ctx, {})
        member = await resolve_member(s, ref)
        return await _awards(s, member.id, file, items, at)


async def _awards(
    s: AsyncSession,
    member_id: int,
    file: ProgrammeFile,
    items: list[earning.BasketLine],
    at: datetime,
    used: dict[earning.CapKey, int] | None = None,
) -> list[earning.Award]:
    ctx = await caps.context(s, member_id, file, at)
    if used is None:
        used = await caps.used(s, member_id, earning.cap_keys(file.earning), at, file)
    return earning.purchase_awards(file.earning, items, ctx, used)


async def record_purchase(
    db: Database, data: PurchaseInput, now: datetime, actor: str | None
) -> PurchaseResult:
    """Record a purchase and credit what it earns; a retry returns the first purchase."""
    external_id = client_key(data.external_id, "externalId", PointsError.INVALID_EXTERNAL_ID)
    items = basket(data.lines)
    at = when(data.occurred_at, now)
    try:
        return await _record(db, data, external_id, items, at, now, actor)
    except IntegrityError:
        async with db.unit_of_work(write=False) as uow:
            existing = await uow.session.scalar(
                select(Purchase).where(Purchase.external_id == external_id)
            )
        if existing is None:
            raise
    # The same externalId was recorded at the same moment by another request.
    async with db.unit_of_work(write=False) as uow:
        member = await resolve_member(uow.session, data.member)
    return _replayed(existing, member)


def _replayed(existing: Purchase, member: Member) -> PurchaseResult:
    if existing.member_id != member.id:
        raise conflict("externalId", "another member")
    return PurchaseResult(existing, replayed=True)


async def _record(
    db: Database,
    data: PurchaseInput,
    external_id: str,
    items: list[earning.BasketLine],
    at: datetime,
    now: datetime,
    actor: str | None,
) -> PurchaseResult:
    async with db.unit_of_work() as uow:
        s = uow.session
        # Round trips: the lock (with other areas' probes and the programme's revision), then
        # one read of what the purchase needs (`purchase_context`), then the writes.
        member, account = await lock_member(s, data.member, now)
        file = await current_file(s)
        context = await purchase_context.read(s, member.id, external_id, file, at, now)
        if context.existing_id is not None:
            existing = await s.get(Purchase, context.existing_id)
            assert existing is not None
            return _replayed(existing, member)
        require_active(member)
        currency = _currency(data, file)
        awards = await _awards(s, member.id, file, items, at, context.used)
        available_at = purchase_available_at(file.points, at, file.programme.zone)
        purchase = _purchase(data, member, external_id, items, file, currency, at, now, actor)
        purchase.points_earned = sum(a.points for a in awards)
        purchase.points_pending = purchase.points_earned if available_at > now else 0
        qualification.count(s, purchase, now)
        s.add(purchase)
        await s.flush()
        entries = await _credit(s, account, purchase, awards, file, available_at, now, actor)
        await balance_event(s, member.id, entries, now)
        remember_payment(s, purchase.id, data.payment_fingerprint)
        emit(s, _recorded(purchase), now)
        await uow.commit()
        after = last_balance(s, member.id)
    return PurchaseResult(purchase, replayed=False, member=member, balance=after)


def _currency(data: PurchaseInput, file: ProgrammeFile) -> str:
    currency = (data.currency or file.programme.currency).upper()
    if currency != file.programme.currency:
        raise DomainError(
            PointsError.CURRENCY_MISMATCH,
            f"This programme counts in {file.programme.currency}",
            "currency",
        )
    return currency


def _purchase(
    data: PurchaseInput,
    member: Member,
    external_id: str,
    items: list[earning.BasketLine],
    file: ProgrammeFile,
    currency: str,
    at: datetime,
    now: datetime,
    actor: str | None,
) -> Purchase:
    """The purchase row, before its points are known."""
    return Purchase(
        member_id=member.id,
        external_id=external_id,
        store=(data.store or None),
        occurred_at=at,
        recorded_at=now,
        currency=currency,
        total=money(sum((i.amount for i in items), Decimal(0))),
        eligible_total=money(earning.eligible_total(file.earning, items)),
        lines=[
            {
                "sku": i.sku,
                "category": i.category,
                "quantity": str(i.quantity),
                "unit_price": str(i.unit_price),
            }
            for i in items
        ],
        points_earned=0,
        points_pending=0,
        points_reversed=0,
        returned_total=Decimal(0),
        returned_eligible=Decimal(0),
        recorded_by=actor,
    )


async def _credit(
    s: AsyncSession,
    account: PointAccount,
    purchase: Purchase,
    awards: list[earning.Award],
    file: ProgrammeFile,
    available_at: datetime,
    now: datetime,
    actor: str | None,
) -> list[LedgerEntry]:
    """One entry and lot per award: the base rate as `earn`, every rule as `bonus`."""
    at = purchase.occurred_at
    return await ledger.credit_many(
        s,
        account,
        [
            ledger.Credit(
                "earn" if award.rule == earning.BASE_RULE else "bonus",
                award.points,
                ledger.EntryMeta(
                    award.description,
                    source_type="purchase",
                    source_id=purchase.id,
                    rule=award.rule,
                    actor=actor,
                ),
            )
            for award in awards
        ],
        occurred_at=at,
        now=now,
        available_at=available_at,
        expires_at=lot_expiry(file.points, at, available_at, file.programme.zone),
        purchase_id=purchase.id,
    )


def _recorded(purchase: Purchase) -> PurchaseRecorded:
    return PurchaseRecorded(
        member_id=purchase.member_id,
        purchase_id=purchase.id,
        external_id=purchase.external_id,
        store=purchase.store,
        currency=purchase.currency,
        total=purchase.total,
        eligible_total=purchase.eligible_total,
        points_earned=purchase.points_earned,
        occurred_at=purchase.occurred_at,
    )
