"""The friend's purchases: the first of at least the programme's minimum qualifies the
referral, and the rewards fall due when its return window has passed; goods of it brought back
within the window, leaving less than the minimum, cancel the rewards.

Both run inside the purchase's or return's own transaction (reactions to `purchase.recorded`
and `purchase.returned`). The points area records a retried purchase once and announces it
once; the state is also changed by a conditional UPDATE, so two purchases at once cannot both
qualify one referral.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core import probes
from loyalty.core.events import (
    PurchaseRecorded,
    PurchaseReturned,
    ReferralQualified,
    ReferralRejected,
)
from loyalty.core.outbox import emit
from loyalty.points.payment import payment_of
from loyalty.programme.store import current_file
from loyalty.referrals import payments
from loyalty.referrals.models import Referral
from loyalty.referrals.screening import HELD, PENDING, record_decision

QUALIFIED, CANCELLED = "qualified", "cancelled"
PURCHASE_RETURNED = "PURCHASE_RETURNED"
QUALIFY = "qualify"  # the decision recorded (and `referral.qualified` sent) once it qualifies


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# Whether the member is a friend whose referral waits for a purchase (`core.probes`).
OPEN = "referrals.open"


def _open(friend_id: probes.MemberId) -> ColumnElement[bool]:
    return exists().where(
        Referral.friend_id == friend_id,
        Referral.state.in_((PENDING, HELD)),
        Referral.purchase_id.is_(None),
    )


probes.register(OPEN, _open)


async def purchase_recorded(s: AsyncSession, event: PurchaseRecorded, now: datetime) -> None:
    if event.member_id is None:
        return
    token = payment_of(s, event.purchase_id)
    if token is not None:
        # Every card paid with is kept (a referrer's card counts against their friends), and
        # it may hold or refuse a referral before the purchase can qualify it.
        await payments.paid(s, event.member_id, token, now)
    elif probes.answer(s, OPEN, event.member_id) is False:
        return  # no referral of this member waits for a purchase
    row = await s.scalar(
        select(Referral).where(
            Referral.friend_id == event.member_id,
            Referral.state.in_((PENDING, HELD)),
            Referral.purchase_id.is_(None),
        )
    )
    if row is None:
        return
    file = await current_file(s)
    spec = file.referrals
    if spec is None or event.total < spec.min_purchase:
        return
    days = spec.return_window_days
    due = event.occurred_at + timedelta(days=file.points.pending_days if days is None else days)
    # A held referral keeps its purchase and waits for the review.
    state = QUALIFIED if row.state == PENDING else HELD
    result = await s.execute(
        update(Referral)
        .where(Referral.id == row.id, Referral.purchase_id.is_(None))
        .values(
            state=state,
            purchase_id=event.purchase_id,
            purchase_external_id=event.external_id[:128],
            amount=event.total,
            qualified_at=now,
            rewards_due_at=due,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) == 1 and state == QUALIFIED:
        record_decision(s, row, QUALIFY, [], now)
        emit(s, qualified_event(row, event.external_id, event.total, due), now)


def qualified_event(
    row: Referral, external_id: str, amount: Any, due: datetime
) -> ReferralQualified:
    assert row.referrer_id is not None
    return ReferralQualified(
        member_id=row.friend_id,
        referral_id=row.id,
        referrer_id=row.referrer_id,
        purchase_external_id=external_id,
        amount=amount,
        rewards_due_at=due,
    )


async def purchase_returned(s: AsyncSession, event: PurchaseReturned, now: datetime) -> None:
    row = await s.scalar(
        select(Referral).where(
            Referral.purchase_id == event.purchase_id,
            Referral.state.in_((QUALIFIED, HELD)),
        )
    )
    if row is None or row.rewards_due_at is None or row.rewards_due_at <= now:
        return  # after the window a return changes nothing: the rewards stand
    spec = (await current_file(s)).referrals
    kept = (row.amount or 0) - event.amount
    minimum = spec.min_purchase if spec is not None else 0
    if kept > 0 and kept >= minimum:
        row.amount = kept
        row.updated_at = now
        return
    result = await s.execute(
        update(Referral)
        .where(Referral.id == row.id, Referral.state == row.state)
        .values(state=CANCELLED, amount=max(kept, 0), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1 or row.referrer_id is None:
        return
    record_decision(s, row, "cancel", [PURCHASE_RETURNED], now)
    emit(
        s,
        ReferralRejected(
            member_id=row.friend_id,
            referral_id=row.id,
            referrer_id=row.referrer_id,
            reasons=PURCHASE_RETURNED,
        ),
        now,
    )
