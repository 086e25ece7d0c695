"""Taking one use of an offer at the till, atomically: the member's use, a place of the
global limit (an auto offer at its first use) and the points from the budget, or nothing.

The caller locks the offers' rows first (`lock_offers`, in id order, so two purchases never
wait on each other in a circle). The UPDATE is conditional all the same (`spent + points <=
budget`, `activated_count < global_limit`, `uses < per_member_limit`), so no interleaving can
overspend a budget or overshoot a limit even without the lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from loyalty.offers.announce import offer_went, used_up_reason
from loyalty.offers.eligibility import spec_of
from loyalty.offers.models import MemberOffer, Offer
from loyalty.offers.service import per_member_code

ACTIVATED, REDEEMED = "activated", "redeemed"


def covers(offer: Offer, points: int) -> bool:
    """Whether the budget (if any) still covers these points in full."""
    budget = offer.points_budget
    return budget is None or points == 0 or offer.points_budget_spent + points <= budget


async def lock_offers(s: AsyncSession, ids: Sequence[int]) -> None:
    """Lock the offers' rows in id order and read them fresh (PostgreSQL; SQLite already has
    its one writer). `FOR NO KEY UPDATE`, the lock an UPDATE takes: rows that merely refer to
    an offer (an application, an activation) do not wait for it, so no circle forms."""
    if ids:
        query = select(Offer).where(Offer.id.in_(sorted(ids))).order_by(Offer.id)
        locked = query.with_for_update(key_share=True)
        await s.scalars(locked.execution_options(populate_existing=True))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def take_one(
    s: AsyncSession,
    offer: Offer,
    mine: MemberOffer | None,
    member_id: int,
    points: int,
    now: datetime,
) -> MemberOffer | None:
    """One use of the offer for the member, or None (nothing changed) when a limit or the
    budget does not allow it."""
    was_used_up = used_up_reason(offer, points) is not None
    values: dict[str, Any] = {"redeemed_count": Offer.redeemed_count + 1}
    conditions = [Offer.id == offer.id]
    if points and offer.points_budget is not None:
        values["points_budget_spent"] = Offer.points_budget_spent + points
        conditions.append(Offer.points_budget_spent + points <= Offer.points_budget)
    if mine is None:
        values["activated_count"] = Offer.activated_count + 1
        conditions.append(
            or_(Offer.global_limit.is_(None), Offer.activated_count < Offer.global_limit)
        )
    if mine is not None and not await _use(s, offer, mine, now):
        return None
    taken = await s.execute(
        update(Offer)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(taken) != 1:
        if mine is not None:
            await _unuse(s, mine)
        return None
    # The row is locked and was read fresh: its new counters are known without reading again.
    for name, delta in (
        ("redeemed_count", 1),
        ("activated_count", 1 if mine is None else 0),
        ("points_budget_spent", points if "points_budget_spent" in values else 0),
    ):
        set_committed_value(offer, name, getattr(offer, name) + delta)
    if mine is None:
        mine = await _first_use(s, offer, member_id, now)
    if not was_used_up and (reason := used_up_reason(offer, points)) is not None:
        offer_went(s, offer, reason, now)  # this use took the last of it: nobody new may have it
    return mine


async def _use(s: AsyncSession, offer: Offer, mine: MemberOffer, now: datetime) -> bool:
    """Count one more use of the member's activation, unless it is used up."""
    limit = offer.per_member_limit
    room = true() if limit is None else MemberOffer.uses < limit
    state = REDEEMED if limit is not None and mine.uses + 1 >= limit else mine.state
    used = await s.execute(
        update(MemberOffer)
        .where(MemberOffer.id == mine.id, MemberOffer.state != REDEEMED, room)
        .values(uses=MemberOffer.uses + 1, updated_at=now, state=state)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(used) != 1:
        return False
    # Read under the member's account lock: nobody else counts this member's uses meanwhile.
    for name, value in (("uses", mine.uses + 1), ("updated_at", now), ("state", state)):
        set_committed_value(mine, name, value)
    return True


async def _unuse(s: AsyncSession, mine: MemberOffer) -> None:
    """Give back a use counted a moment ago in this transaction (the offer refused)."""
    mine.uses -= 1
    mine.state = ACTIVATED
    await s.flush()


async def _first_use(s: AsyncSession, offer: Offer, member_id: int, now: datetime) -> MemberOffer:
    """An automatic offer's first use: the member's row, with this use counted."""
    spec = spec_of(offer)
    limit = offer.per_member_limit
    mine = MemberOffer(
        member_id=member_id,
        offer_id=offer.id,
        offer_version=offer.version,
        state=REDEEMED if limit is not None and limit <= 1 else ACTIVATED,
        uses=1,
        coupon_code=per_member_code() if spec.coupon_mode == "per_member" else None,
        activated_at=now,
        updated_at=now,
    )
    s.add(mine)
    await s.flush()
    return mine
