"""The fraud checks on the card a purchase was paid with, when the till sends a token for it
(`paymentFingerprint`; the points area keeps it for the purchase's transaction only).

Every such purchase keeps the card as a keyed hash among the buyer's fingerprints (kind
`payment`), so that the referrer's own cards are known too. A referral not yet rewarded is
then looked at again when:

- its friend pays with a card of the referrer, or the referrer with a card of the friend
  (`SAME_PAYMENT`: the same person on both sides, refused);
- its friend pays with a card another friend of the same referrer paid with
  (`SHARED_PAYMENT`: one person collecting rewards under several names);
- its friend pays with a card of any other member (`SHARED_IDENTITY`).

The new reasons are added to those found at sign-up and the programme's policy decides
again: a referral may be held (a qualified one keeps its purchase and waits for the review)
or refused. Every such decision is recorded with its reasons. Runs inside the purchase's own
transaction, before the purchase can qualify the referral.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Exists, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from loyalty.core.events import ReferralHeld, ReferralRejected
from loyalty.core.outbox import emit
from loyalty.programme.referrals_spec import FraudPolicy
from loyalty.programme.store import current_file
from loyalty.referrals import fingerprints as fp
from loyalty.referrals.errors import ReferralsError
from loyalty.referrals.models import Referral, ReferralFingerprint
from loyalty.referrals.policy import Decision, Reason, decide
from loyalty.referrals.screening import HELD, PENDING, REJECTED, keep_prints, record_decision

# Referrals whose rewards are still to come: what a card can still change.
OPEN = (PENDING, HELD, "qualified")


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _holds(member_id: Any, card: fp.Fingerprint) -> Exists:
    return exists().where(
        ReferralFingerprint.member_id == member_id,
        ReferralFingerprint.kind == card.kind,
        ReferralFingerprint.digest == card.digest,
    )


async def paid(s: AsyncSession, member_id: int, token: str, now: datetime) -> None:
    """A member paid with the card `token`: check the open referrals it touches, keep it."""
    key = await fp.fingerprint_key(s)
    card = fp.digest(key, fp.PAYMENT, token)
    spec = (await current_file(s)).referrals
    if spec is not None:
        as_friend = await s.scalar(
            select(Referral).where(Referral.friend_id == member_id, Referral.state.in_(OPEN))
        )
        if as_friend is not None and as_friend.referrer_id is not None:
            found = await _friend_reasons(s, as_friend, card)
            await _decide_again(s, as_friend, found, spec.fraud, now)
        # The referrer paying with a card a friend of theirs paid with.
        as_referrer = await s.scalars(
            select(Referral).where(
                Referral.referrer_id == member_id,
                Referral.state.in_(OPEN),
                _holds(Referral.friend_id, card),
            )
        )
        for row in list(as_referrer):
            await _decide_again(s, row, {Reason.SAME_PAYMENT}, spec.fraud, now)
    await keep_prints(s, member_id, [card], now)


async def _friend_reasons(s: AsyncSession, row: Referral, card: fp.Fingerprint) -> set[Reason]:
    found: set[Reason] = set()
    if await s.scalar(select(_holds(row.referrer_id, card))):
        found.add(Reason.SAME_PAYMENT)
    other_friends = select(Referral.friend_id).where(
        Referral.referrer_id == row.referrer_id,
        Referral.friend_id != row.friend_id,
        Referral.state != "ignored",
    )
    holders = select(ReferralFingerprint.member_id).where(
        ReferralFingerprint.kind == card.kind,
        ReferralFingerprint.digest == card.digest,
        ReferralFingerprint.member_id.not_in((row.friend_id, row.referrer_id)),
    )
    among_friends = holders.where(ReferralFingerprint.member_id.in_(other_friends))
    if await s.scalar(select(exists(among_friends))):
        found.add(Reason.SHARED_PAYMENT)
    elif await s.scalar(select(exists(holders))):
        found.add(Reason.SHARED_IDENTITY)
    return found


async def _decide_again(
    s: AsyncSession, row: Referral, found: set[Reason], policy: FraudPolicy, now: datetime
) -> None:
    known = {Reason(r) for r in row.reasons if r in Reason.__members__}
    if not found - known:
        return  # nothing new: the decision taken stands
    verdict = decide(known | found, policy)
    before = row.state
    values: dict[str, object] = {
        "risk_score": verdict.score,
        "reasons": verdict.reason_codes,
        "updated_at": now,
    }
    if verdict.decision == Decision.BLOCK:
        own = verdict.self_referral
        notice = ReferralsError.OWN_REFERRAL_CODE if own else ReferralsError.REFERRAL_REFUSED
        values |= {"state": REJECTED, "notice": notice.value}
    elif verdict.decision == Decision.HOLD:
        values |= {"state": HELD, "notice": ReferralsError.REFERRAL_UNDER_REVIEW.value}
    # Conditional: a rewards job or a review that moved it on first has the last word.
    moved = await s.execute(
        update(Referral)
        .where(Referral.id == row.id, Referral.state == before)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(moved) != 1:
        return
    for name, value in values.items():
        set_committed_value(row, name, value)
    # A held referral stays held until an admin looks (were the thresholds raised since).
    held = verdict.decision == Decision.ALLOW and before == HELD
    decision = Decision.HOLD if held else verdict.decision
    record_decision(s, row, decision.value, verdict.reason_codes, now)
    assert row.referrer_id is not None
    common = {"member_id": row.friend_id, "referral_id": row.id, "referrer_id": row.referrer_id}
    reasons = ",".join(verdict.reason_codes)
    if row.state == REJECTED:
        emit(s, ReferralRejected(**common, reasons=reasons), now)
    elif row.state == HELD and before != HELD:
        emit(s, ReferralHeld(**common, risk_score=row.risk_score, reasons=reasons), now)
