"""Use cases that change points: purchases, returns, events and manual adjustments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, NotFound, ValidationFailed
from loyalty.core.events import (
    ActivityRecorded,
    BalanceChanged,
    PurchaseRecorded,
    PurchaseReturned,
)
from loyalty.core.identifiers import client_key
from loyalty.core.outbox import emit
from loyalty.members import service as members
from loyalty.members.models import Member
from loyalty.points import earning, ledger
from loyalty.points.models import (
    LedgerEntry,
    MemberEvent,
    PointAccount,
    PointLot,
    Purchase,
    PurchaseReturn,
)
from loyalty.points.timeline import available_from, expiry_of
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers import service as tiers

MAX_CLOCK_SKEW = timedelta(minutes=10)
MAX_LINES = 500
# Keeps every total within the database's money columns (12 digits before the point).
MAX_LINE_AMOUNT = Decimal(1_000_000_000)


@dataclass(frozen=True)
class MemberRef:
    """A member named by id, member number or card barcode: exactly one of them."""

    member_id: int | None = None
    member_number: str | None = None
    barcode: str | None = None


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


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    replayed: bool


@dataclass(frozen=True)
class ReturnLine:
    sku: str
    quantity: Decimal


@dataclass(frozen=True)
class ReturnInput:
    purchase_external_id: str
    external_id: str
    lines: Sequence[ReturnLine] = ()
    amount: Decimal | None = None


@dataclass(frozen=True)
class ReturnResult:
    purchase: Purchase
    points_reversed: int
    replayed: bool


@dataclass(frozen=True)
class EventInput:
    member: MemberRef
    external_id: str
    name: str
    occurred_at: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventResult:
    member_id: int
    points_awarded: int
    replayed: bool


async def resolve_member(s: AsyncSession, ref: MemberRef) -> Member:
    given = [v for v in (ref.member_id, ref.member_number, ref.barcode) if v is not None]
    if len(given) != 1:
        raise DomainError(
            "INVALID_MEMBER_REFERENCE",
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


def _conflict(field_name: str, other: str) -> DomainError:
    return DomainError(
        "IDEMPOTENCY_CONFLICT", f"This {field_name} was already used for {other}", field_name
    )


def _require_active(member: Member) -> None:
    if member.status != "active":
        raise DomainError("MEMBER_NOT_ACTIVE", "This member is blocked or closed", "member")


def basket(lines: Sequence[PurchaseLine]) -> list[earning.BasketLine]:
    problems: list[DomainError] = []
    if not lines:
        problems.append(DomainError("EMPTY_PURCHASE", "A purchase needs lines", "lines"))
    if len(lines) > MAX_LINES:
        problems.append(DomainError("TOO_MANY_LINES", f"At most {MAX_LINES} lines", "lines"))
    for line in lines:
        if not line.sku.strip():
            problems.append(DomainError("INVALID_LINE", "Every line needs a SKU", "lines"))
        if not line.quantity.is_finite() or line.quantity <= 0:
            problems.append(DomainError("INVALID_LINE", "Quantities must be positive", "lines"))
        if not line.unit_price.is_finite() or line.unit_price < 0:
            problems.append(DomainError("INVALID_LINE", "Prices must not be negative", "lines"))
        elif line.quantity.is_finite() and line.quantity * line.unit_price > MAX_LINE_AMOUNT:
            problems.append(
                DomainError(
                    "INVALID_LINE", f"A line may be worth at most {MAX_LINE_AMOUNT}", "lines"
                )
            )
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


def _money(value: Decimal) -> Decimal:
    try:
        return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise DomainError("INVALID_AMOUNT", "Amount out of range", "amount") from None


async def _used(
    s: AsyncSession,
    member_id: int,
    keys: Sequence[earning.CapKey],
    at: datetime,
    file: ProgrammeFile,
    *,
    count: bool = False,
) -> dict[earning.CapKey, int]:
    """Points (or awards) the member already earned per cap key in its current period, all
    keys in one query."""
    if not keys:
        return {}
    columns = []
    for rule, period in keys:
        start = earning.period_start(period, at, file.programme.zone)
        conditions = [
            LedgerEntry.source_type == "purchase"
            if rule == earning.PURCHASES
            else LedgerEntry.rule == rule
        ]
        if start is not None:
            conditions.append(LedgerEntry.occurred_at >= start)
        value = literal(1) if count else LedgerEntry.points
        columns.append(func.coalesce(func.sum(case((and_(*conditions), value), else_=0)), 0))
    row = (
        await s.execute(
            select(*columns).where(
                LedgerEntry.member_id == member_id, LedgerEntry.kind.in_(("earn", "bonus"))
            )
        )
    ).one()
    return {key: int(value) for key, value in zip(keys, row, strict=True)}


async def _context(
    s: AsyncSession, member_id: int, file: ProgrammeFile, at: datetime
) -> earning.EarnContext:
    level = await tiers.current_level(s, member_id, file, at)
    return earning.EarnContext(
        at=at,
        zone=file.programme.zone,
        tier=level.key if level else None,
        tier_multiplier=level.earn_multiplier if level else Decimal(1),
    )


async def balance_event(
    s: AsyncSession, member_id: int, entries: Sequence[LedgerEntry], now: datetime
) -> None:
    """Tell listeners about new entries, each with the balance after the whole change."""
    current = await ledger.balance(s, member_id, now)
    for entry in entries:
        emit(
            s,
            BalanceChanged(
                member_id=member_id,
                entry_id=entry.id,
                kind=entry.kind,
                points=entry.points,
                entry_description=entry.description,
                occurred_at=entry.occurred_at,
                available_at=entry.available_at,
                expires_at=entry.expires_at,
                available=current.available,
                pending=current.pending,
                lifetime_earned=current.lifetime_earned,
                debt=current.debt,
                expiring_points=current.expiring_points,
                expiring_at=current.expiring_at,
            ),
            now,
        )


@dataclass(frozen=True)
class Activity:
    """Something a member did that earning rules may reward, as recorded once."""

    external_id: str
    name: str
    at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


async def record_activity(
    s: AsyncSession,
    member: Member,
    account: PointAccount,
    activity: Activity,
    now: datetime,
    actor: str | None,
) -> MemberEvent:
    """Record the activity and credit what the event rules award for it, in the caller's
    transaction (the member's account already locked, the external id not yet used)."""
    _require_active(member)
    file = await current_file(s)
    name, at = activity.name, activity.at
    ctx = await _context(s, member.id, file, at)
    keys = earning.cap_keys(file.earning, name)
    awards = earning.event_awards(
        file.earning,
        name,
        ctx,
        await _used(s, member.id, keys, at, file),
        await _used(s, member.id, keys, at, file, count=True),
    )
    event = MemberEvent(
        member_id=member.id,
        external_id=activity.external_id,
        name=name,
        occurred_at=at,
        recorded_at=now,
        properties=activity.properties,
        points_awarded=sum(a.points for a in awards),
    )
    s.add(event)
    await s.flush()
    expires_at = expiry_of(file.points.expiry, at, file.programme.zone)
    entries = [
        await ledger.credit(
            s,
            account,
            "bonus",
            award.points,
            occurred_at=at,
            now=now,
            available_at=at,
            expires_at=expires_at,
            meta=ledger.EntryMeta(
                award.description,
                source_type="event",
                source_id=event.id,
                rule=award.rule,
                actor=actor,
            ),
        )
        for award in awards
    ]
    if entries:
        await balance_event(s, member.id, entries, now)
    emit(
        s,
        ActivityRecorded(
            member_id=member.id,
            activity=name,
            external_id=activity.external_id,
            points_awarded=event.points_awarded,
            occurred_at=at,
        ),
        now,
    )
    return event


class PointsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def _when(self, occurred_at: datetime | None, now: datetime) -> datetime:
        if occurred_at is None:
            return now
        if occurred_at.tzinfo is None:
            raise DomainError("INVALID_DATE", "Times need a UTC offset", "occurredAt")
        if occurred_at > now + MAX_CLOCK_SKEW:
            raise DomainError("INVALID_DATE", "occurredAt is in the future", "occurredAt")
        return occurred_at

    async def preview_purchase(
        self, ref: MemberRef | None, lines: Sequence[PurchaseLine], at: datetime | None = None
    ) -> list[earning.Award]:
        """What a basket would earn now, changing nothing (the till's dry run)."""
        items = basket(lines)
        now = self.clock.now()
        at = self._when(at, now)
        async with self.db.unit_of_work(write=False) as uow:
            file = await current_file(uow.session)
            if ref is None:
                ctx = earning.EarnContext(at, file.programme.zone, None, Decimal(1))
                return earning.purchase_awards(file.earning, items, ctx, {})
            member = await resolve_member(uow.session, ref)
            ctx = await _context(uow.session, member.id, file, at)
            used = await _used(uow.session, member.id, earning.cap_keys(file.earning), at, file)
            return earning.purchase_awards(file.earning, items, ctx, used)

    async def record_purchase(
        self, data: PurchaseInput, actor: str | None = None
    ) -> PurchaseResult:
        external_id = client_key(data.external_id)
        items = basket(data.lines)
        now = self.clock.now()
        at = self._when(data.occurred_at, now)
        try:
            return await self._record_purchase(data, external_id, items, at, now, actor)
        except IntegrityError:
            # The same externalId was recorded at the same moment by another request.
            async with self.db.unit_of_work(write=False) as uow:
                existing = await uow.session.scalar(
                    select(Purchase).where(Purchase.external_id == external_id)
                )
            if existing is None:
                raise
            async with self.db.unit_of_work(write=False) as uow:
                member = await resolve_member(uow.session, data.member)
            if existing.member_id != member.id:
                raise _conflict("externalId", "another member") from None
            return PurchaseResult(existing, replayed=True)

    async def _record_purchase(
        self,
        data: PurchaseInput,
        external_id: str,
        items: list[earning.BasketLine],
        at: datetime,
        now: datetime,
        actor: str | None,
    ) -> PurchaseResult:
        async with self.db.unit_of_work() as uow:
            s = uow.session
            member = await resolve_member(s, data.member)
            account = await ledger.lock_account(s, member.id, now)
            existing = await s.scalar(select(Purchase).where(Purchase.external_id == external_id))
            if existing is not None:
                if existing.member_id != member.id:
                    raise _conflict("externalId", "another member")
                return PurchaseResult(existing, replayed=True)
            _require_active(member)
            file = await current_file(s)
            currency = (data.currency or file.programme.currency).upper()
            if currency != file.programme.currency:
                raise DomainError(
                    "CURRENCY_MISMATCH",
                    f"This programme counts in {file.programme.currency}",
                    "currency",
                )
            ctx = await _context(s, member.id, file, at)
            used = await _used(s, member.id, earning.cap_keys(file.earning), at, file)
            awards = earning.purchase_awards(file.earning, items, ctx, used)
            available_at = available_from(file.points.pending_days, at, file.programme.zone)
            purchase = Purchase(
                member_id=member.id,
                external_id=external_id,
                store=(data.store or None),
                occurred_at=at,
                recorded_at=now,
                currency=currency,
                total=_money(sum((i.amount for i in items), Decimal(0))),
                eligible_total=_money(earning.eligible_total(file.earning, items)),
                lines=[
                    {
                        "sku": i.sku,
                        "category": i.category,
                        "quantity": str(i.quantity),
                        "unit_price": str(i.unit_price),
                    }
                    for i in items
                ],
                points_earned=sum(a.points for a in awards),
                points_pending=sum(a.points for a in awards) if available_at > now else 0,
                points_reversed=0,
                returned_total=Decimal(0),
                returned_eligible=Decimal(0),
                recorded_by=actor,
            )
            s.add(purchase)
            await s.flush()
            entries = await ledger.credit_many(
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
                expires_at=expiry_of(file.points.expiry, at, file.programme.zone),
                purchase_id=purchase.id,
            )
            await balance_event(s, member.id, entries, now)
            emit(
                s,
                PurchaseRecorded(
                    member_id=member.id,
                    purchase_id=purchase.id,
                    external_id=purchase.external_id,
                    store=purchase.store,
                    currency=purchase.currency,
                    total=purchase.total,
                    eligible_total=purchase.eligible_total,
                    points_earned=purchase.points_earned,
                    occurred_at=at,
                ),
                now,
            )
            await uow.commit()
        return PurchaseResult(purchase, replayed=False)

    async def record_return(self, data: ReturnInput, actor: str | None = None) -> ReturnResult:
        external_id = client_key(data.external_id)
        purchase_id = client_key(data.purchase_external_id, "purchaseExternalId")
        if bool(data.lines) == (data.amount is not None):
            raise DomainError(
                "INVALID_RETURN", "Give either the returned lines or the returned amount", "lines"
            )
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            purchase = await s.scalar(select(Purchase).where(Purchase.external_id == purchase_id))
            if purchase is None:
                raise DomainError(
                    "PURCHASE_NOT_FOUND", "No purchase with this externalId", "purchaseExternalId"
                )
            account = await ledger.lock_account(s, purchase.member_id, now)
            await s.refresh(purchase)
            existing = await s.scalar(
                select(PurchaseReturn).where(PurchaseReturn.external_id == external_id)
            )
            if existing is not None:
                if existing.purchase_id != purchase.id:
                    raise _conflict("externalId", "another purchase")
                return ReturnResult(purchase, existing.points_reversed, replayed=True)
            file = await current_file(s)
            amount, eligible, lines = await self._returned(s, purchase, data, file)
            purchase.returned_total += amount
            purchase.returned_eligible += eligible
            share = (
                purchase.returned_eligible / purchase.eligible_total
                if purchase.eligible_total > 0
                else Decimal(0)
            )
            target = int(
                (purchase.points_earned * min(share, Decimal(1))).to_integral_value(ROUND_HALF_UP)
            )
            reverse = max(min(target, purchase.points_earned) - purchase.points_reversed, 0)
            entry = None
            if reverse > 0:
                own = list(
                    await s.scalars(
                        select(PointLot)
                        .where(PointLot.purchase_id == purchase.id, PointLot.remaining > 0)
                        # The purchase's own pending points go first, then its spendable ones.
                        .order_by(PointLot.available_at.desc(), *ledger.SPEND_ORDER)
                    )
                )
                own = [
                    lot
                    for lot in own
                    if lot.available_at > now or lot.expires_at is None or lot.expires_at > now
                ]
                entry, taken = await ledger.debit(
                    s,
                    account,
                    "reverse",
                    reverse,
                    now=now,
                    first=own,
                    allow_debt=file.points.allow_negative_balance,
                    meta=ledger.EntryMeta(
                        "Points taken back for a return",
                        source_type="purchase",
                        source_id=purchase.id,
                        actor=actor,
                    ),
                )
                # Waived points (no debt allowed) were never taken, so they stay earned.
                account.lifetime_earned -= taken
            purchase.points_reversed += reverse
            s.add(
                PurchaseReturn(
                    purchase_id=purchase.id,
                    external_id=external_id,
                    amount=amount,
                    eligible_amount=eligible,
                    points_reversed=reverse,
                    lines=lines,
                    recorded_at=now,
                )
            )
            if entry is not None:
                await balance_event(s, purchase.member_id, [entry], now)
            emit(
                s,
                PurchaseReturned(
                    member_id=purchase.member_id,
                    purchase_id=purchase.id,
                    purchase_external_id=purchase.external_id,
                    external_id=external_id,
                    amount=amount,
                    points_reversed=reverse,
                ),
                now,
            )
            await uow.commit()
        return ReturnResult(purchase, reverse, replayed=False)

    async def _returned(
        self, s: AsyncSession, purchase: Purchase, data: ReturnInput, file: ProgrammeFile
    ) -> tuple[Decimal, Decimal, list[dict[str, str]]]:
        """Money returned, the part of it that earned points, and the lines as recorded."""
        left_total = purchase.total - purchase.returned_total
        if data.amount is not None:
            amount = _money(data.amount)
            if amount <= 0 or amount > left_total:
                raise DomainError(
                    "RETURN_EXCEEDS_PURCHASE",
                    f"The amount must be above 0 and at most {left_total}",
                    "amount",
                )
            eligible = (
                _money(amount * purchase.eligible_total / purchase.total)
                if purchase.total > 0
                else Decimal(0)
            )
            return amount, eligible, []
        bought: dict[str, list[dict[str, Any]]] = {}
        for line in purchase.lines:
            bought.setdefault(line["sku"], []).append(line)
        already: dict[str, Decimal] = {}
        for earlier in await s.scalars(
            select(PurchaseReturn).where(PurchaseReturn.purchase_id == purchase.id)
        ):
            for line in earlier.lines:
                already[line["sku"]] = already.get(line["sku"], Decimal(0)) + Decimal(
                    line["quantity"]
                )
        amount = eligible = Decimal(0)
        recorded = []
        for returned in data.lines:
            matches = bought.get(returned.sku)
            if not matches:
                raise DomainError(
                    "RETURN_LINE_NOT_IN_PURCHASE", f"{returned.sku} was not bought", "lines"
                )
            quantity = sum((Decimal(m["quantity"]) for m in matches), Decimal(0))
            if returned.quantity <= 0 or returned.quantity > quantity - already.get(
                returned.sku, Decimal(0)
            ):
                raise DomainError(
                    "RETURN_EXCEEDS_PURCHASE",
                    f"More {returned.sku} returned than bought",
                    "lines",
                )
            already[returned.sku] = already.get(returned.sku, Decimal(0)) + returned.quantity
            line = matches[0]
            value = returned.quantity * Decimal(line["unit_price"])
            amount += value
            item = earning.BasketLine(
                line["sku"], line["category"], returned.quantity, Decimal(line["unit_price"])
            )
            eligible += earning.eligible_total(file.earning, [item])
            recorded.append({"sku": returned.sku, "quantity": str(returned.quantity)})
        if _money(amount) > left_total:
            # Earlier returns by amount left less money than these lines are worth.
            raise DomainError(
                "RETURN_EXCEEDS_PURCHASE", f"At most {left_total} can still come back", "lines"
            )
        return _money(amount), _money(eligible), recorded

    async def record_event(self, data: EventInput, actor: str | None = None) -> EventResult:
        try:
            return await self._record_event(data, actor)
        except IntegrityError:
            # The same externalId arrived at the same moment for another member.
            raise _conflict("externalId", "another event") from None

    async def _record_event(self, data: EventInput, actor: str | None) -> EventResult:
        external_id = client_key(data.external_id)
        name = data.name.strip().lower()
        if not name or len(name) > 63:
            raise DomainError("INVALID_EVENT", "An event name of 1-63 characters is needed", "name")
        now = self.clock.now()
        at = self._when(data.occurred_at, now)
        async with self.db.unit_of_work() as uow:
            s = uow.session
            member = await resolve_member(s, data.member)
            account = await ledger.lock_account(s, member.id, now)
            existing = await s.scalar(
                select(MemberEvent).where(MemberEvent.external_id == external_id)
            )
            if existing is not None:
                if existing.member_id != member.id:
                    raise _conflict("externalId", "another member")
                return EventResult(member.id, existing.points_awarded, replayed=True)
            event = await record_activity(
                s, member, account, Activity(external_id, name, at, data.properties), now, actor
            )
            await uow.commit()
        return EventResult(member.id, event.points_awarded, replayed=False)

    async def adjust(
        self,
        ref: MemberRef,
        points: int,
        reason: str,
        *,
        actor: str,
        idempotency_key: str | None = None,
    ) -> tuple[LedgerEntry, bool]:
        """A manual correction by staff, with the reason and who made it."""
        try:
            return await self._adjust(ref, points, reason, actor, idempotency_key)
        except IntegrityError:
            # The same idempotencyKey arrived at the same moment for another member.
            raise _conflict("idempotencyKey", "another adjustment") from None

    async def _adjust(
        self, ref: MemberRef, points: int, reason: str, actor: str, idempotency_key: str | None
    ) -> tuple[LedgerEntry, bool]:
        reason = reason.strip()
        if not reason:
            raise DomainError("REASON_REQUIRED", "Say why the points change", "reason")
        if points == 0 or abs(points) > 10_000_000:
            raise DomainError("INVALID_POINTS", "Points must be non-zero and sane", "points")
        key = (
            f"adjust:{client_key(idempotency_key, 'idempotencyKey', 'INVALID_IDEMPOTENCY_KEY')}"
            if idempotency_key
            else None
        )
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            member = await resolve_member(s, ref)
            account = await ledger.lock_account(s, member.id, now)
            if key is not None:
                existing = await s.scalar(
                    select(LedgerEntry).where(LedgerEntry.idempotency_key == key)
                )
                if existing is not None:
                    if existing.member_id != member.id or existing.points != points:
                        raise _conflict("idempotencyKey", "another adjustment")
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
                entry = await ledger.credit(
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
            else:
                await ledger.settle(s, account, now)
                current = await ledger.balance(s, member.id, now)
                if current.available < -points:
                    raise DomainError(
                        "INSUFFICIENT_POINTS",
                        f"Only {max(current.available, 0)} points available to take",
                        "points",
                    )
                taken, _ = await ledger.debit(s, account, "adjust", -points, now=now, meta=meta)
                assert taken is not None
                entry = taken
            await balance_event(s, member.id, [entry], now)
            await uow.commit()
        return entry, False

    async def set_tier_floor(
        self, ref: MemberRef, tier: str, until: datetime | None
    ) -> tiers.TierStatus | None:
        """Staff give a member at least `tier` until `until`."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            member = await resolve_member(s, ref)
            file = await current_file(s)
            await tiers.set_floor(s, member.id, file, tier, until, now)
            status = await tiers.status(s, member.id, file, now)
            await uow.commit()
        return status

    async def history(
        self, member_id: int, limit: int, before_id: int | None = None
    ) -> list[LedgerEntry]:
        """The member's entries, newest first; `before_id` continues after that entry."""
        query = select(LedgerEntry).where(LedgerEntry.member_id == member_id)
        if before_id is not None:
            query = query.where(LedgerEntry.id < before_id)
        async with self.db.unit_of_work(write=False) as uow:
            return list(
                await uow.session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit))
            )

    async def balance(self, member_id: int) -> ledger.Balance:
        async with self.db.unit_of_work(write=False) as uow:
            file = await current_file(uow.session)
            return await ledger.balance(
                uow.session,
                member_id,
                self.clock.now(),
                warn_days=file.points.expiry.warn_days_before,
            )

    async def account(self, member_id: int) -> PointAccount | None:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.session.get(PointAccount, member_id)
