"""Returns: what comes back of a purchase (by lines or by amount), and the points taken back
for it: earned x returned / original, rounded half up, at most what the purchase earned,
never twice, the purchase's own pending points first, clamped at zero unless the programme
allows debt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError
from loyalty.core.events import PurchaseReturned
from loyalty.core.identifiers import client_key
from loyalty.core.outbox import emit
from loyalty.points import ledger, return_lines
from loyalty.points.balances import balance_event
from loyalty.points.errors import PointsError
from loyalty.points.models import LedgerEntry, PointAccount, PointLot, Purchase, PurchaseReturn
from loyalty.points.refs import conflict, money
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database


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
    """`points_reversed`: taken back from the member (or owed, when debt is allowed);
    `points_waived`: undone by the return but not taken, the balance being too low."""

    purchase: Purchase
    points_reversed: int
    replayed: bool
    points_waived: int = 0


@dataclass(frozen=True)
class Returned:
    """Money returned, the part of it that earned points, and the lines as recorded."""

    amount: Decimal
    eligible: Decimal
    lines: list[dict[str, str]]


async def record_return(
    db: Database, data: ReturnInput, now: datetime, actor: str | None
) -> ReturnResult:
    """Record a return once by its external id and take back the points it undoes."""
    external_id = client_key(data.external_id, "externalId", PointsError.INVALID_EXTERNAL_ID)
    purchase_id = client_key(
        data.purchase_external_id, "purchaseExternalId", PointsError.INVALID_EXTERNAL_ID
    )
    if bool(data.lines) == (data.amount is not None):
        raise DomainError(
            PointsError.INVALID_RETURN,
            "Give either the returned lines or the returned amount",
            "lines",
        )
    async with db.unit_of_work() as uow:
        s = uow.session
        purchase = await _purchase(s, purchase_id)
        account = await ledger.lock_account(s, purchase.member_id, now)
        await s.refresh(purchase)
        existing = await s.scalar(
            select(PurchaseReturn).where(PurchaseReturn.external_id == external_id)
        )
        if existing is not None:
            if existing.purchase_id != purchase.id:
                raise conflict("externalId", "another purchase")
            waived = existing.points_waived
            return ReturnResult(purchase, existing.points_reversed - waived, True, waived)
        file = await current_file(s)
        returned = await _returned(s, purchase, data, file)
        reversed_, waived, entry = await _apply(s, account, purchase, returned, file, now, actor)
        s.add(
            PurchaseReturn(
                purchase_id=purchase.id,
                external_id=external_id,
                amount=returned.amount,
                eligible_amount=returned.eligible,
                points_reversed=reversed_,
                points_waived=waived,
                lines=returned.lines,
                recorded_at=now,
            )
        )
        if entry is not None:
            await balance_event(s, purchase.member_id, [entry], now)
        emit(s, _event(purchase, external_id, returned, reversed_ - waived, waived), now)
        await uow.commit()
    return ReturnResult(purchase, reversed_ - waived, False, waived)


async def _purchase(s: AsyncSession, external_id: str) -> Purchase:
    purchase = await s.scalar(select(Purchase).where(Purchase.external_id == external_id))
    if purchase is None:
        raise DomainError(
            PointsError.PURCHASE_NOT_FOUND,
            "No purchase with this externalId",
            "purchaseExternalId",
        )
    return purchase


async def _apply(
    s: AsyncSession,
    account: PointAccount,
    purchase: Purchase,
    returned: Returned,
    file: ProgrammeFile,
    now: datetime,
    actor: str | None,
) -> tuple[int, int, LedgerEntry | None]:
    """Count the return against the purchase and take back the points it undoes: how many
    (waived ones included), how many of those were waived, and the entry that took them
    (None when nothing was taken)."""
    purchase.returned_total += returned.amount
    purchase.returned_eligible += returned.eligible
    reverse = max(_reversal_target(purchase) - purchase.points_reversed, 0)
    entry, taken = None, 0
    if reverse > 0:
        entry, taken = await _take_back(s, account, purchase, reverse, file, now, actor)
    purchase.points_reversed += reverse
    purchase.points_waived += reverse - taken
    return reverse, reverse - taken, entry


def _reversal_target(purchase: Purchase) -> int:
    """Points all returns of the purchase so far undo: earned x returned / original."""
    share = (
        purchase.returned_eligible / purchase.eligible_total
        if purchase.eligible_total > 0
        else Decimal(0)
    )
    target = int((purchase.points_earned * min(share, Decimal(1))).to_integral_value(ROUND_HALF_UP))
    return min(target, purchase.points_earned)


async def _take_back(
    s: AsyncSession,
    account: PointAccount,
    purchase: Purchase,
    points: int,
    file: ProgrammeFile,
    now: datetime,
    actor: str | None,
) -> tuple[LedgerEntry | None, int]:
    entry, taken = await ledger.debit(
        s,
        account,
        "reverse",
        points,
        now=now,
        first=await _own_lots(s, purchase, now),
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
    return entry, taken


async def _own_lots(s: AsyncSession, purchase: Purchase, now: datetime) -> list[PointLot]:
    """The purchase's lots that still hold points: pending ones first, then spendable ones
    (expired lots are left alone)."""
    own = await s.scalars(
        select(PointLot)
        .where(PointLot.purchase_id == purchase.id, PointLot.remaining > 0)
        .order_by(PointLot.available_at.desc(), *ledger.SPEND_ORDER)
    )
    return [
        lot
        for lot in own
        if lot.available_at > now or lot.expires_at is None or lot.expires_at > now
    ]


def _event(
    purchase: Purchase, external_id: str, returned: Returned, points: int, waived: int
) -> PurchaseReturned:
    return PurchaseReturned(
        member_id=purchase.member_id,
        purchase_id=purchase.id,
        purchase_external_id=purchase.external_id,
        external_id=external_id,
        amount=returned.amount,
        points_reversed=points,
        points_waived=waived,
    )


# --- what comes back -------------------------------------------------------------------------


async def _returned(
    s: AsyncSession, purchase: Purchase, data: ReturnInput, file: ProgrammeFile
) -> Returned:
    left_total = purchase.total - purchase.returned_total
    if data.amount is not None:
        return _by_amount(purchase, data.amount, left_total)
    returned = _by_lines(purchase, data.lines, await _already_returned(s, purchase), file)
    if returned.amount > left_total:
        # Earlier returns by amount left less money than these lines are worth.
        raise DomainError(
            PointsError.RETURN_EXCEEDS_PURCHASE,
            f"At most {left_total} can still come back",
            "lines",
        )
    return returned


def _by_amount(purchase: Purchase, value: Decimal, left_total: Decimal) -> Returned:
    amount = money(value)
    if amount <= 0 or amount > left_total:
        raise DomainError(
            PointsError.RETURN_EXCEEDS_PURCHASE,
            f"The amount must be above 0 and at most {left_total}",
            "amount",
        )
    eligible = (
        money(amount * purchase.eligible_total / purchase.total)
        if purchase.total > 0
        else Decimal(0)
    )
    return Returned(amount, eligible, [])


async def _already_returned(s: AsyncSession, purchase: Purchase) -> dict[str, Decimal]:
    """Quantities per SKU that earlier returns of the purchase brought back."""
    already: dict[str, Decimal] = {}
    for earlier in await s.scalars(
        select(PurchaseReturn).where(PurchaseReturn.purchase_id == purchase.id)
    ):
        for line in earlier.lines:
            already[line["sku"]] = already.get(line["sku"], Decimal(0)) + Decimal(line["quantity"])
    return already


def _by_lines(
    purchase: Purchase,
    lines: Sequence[ReturnLine],
    already: dict[str, Decimal],
    file: ProgrammeFile,
) -> Returned:
    """The returned lines priced as bought (`return_lines`: dearest line of a SKU first)."""
    priced = return_lines.price_lines(
        purchase.lines, [(line.sku, line.quantity) for line in lines], already, file.earning
    )
    return Returned(priced.amount, priced.eligible, priced.lines)
