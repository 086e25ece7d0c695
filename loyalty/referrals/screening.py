"""A new member, however they came in: keep their fingerprints, give them a code, and if they
brought a referral code, decide what becomes of it (the fraud service's verdict, or why the
code was ignored). Runs inside the sign-up's own transaction, as the reaction to
`member.signed_up`; the sign-up never fails because of a referral code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import MemberSignedUp, ReferralHeld, ReferralRejected, ReferralSignedUp
from loyalty.core.outbox import emit
from loyalty.members import service as members
from loyalty.members.signals import SignUpSignals, signals_of
from loyalty.programme.store import current_file
from loyalty.referrals import codes
from loyalty.referrals import fingerprints as fp
from loyalty.referrals.errors import ReferralsError
from loyalty.referrals.fraud import Candidate, assess_sign_up
from loyalty.referrals.models import Referral, ReferralDecision, ReferralFingerprint
from loyalty.referrals.policy import Decision, Verdict
from loyalty.storage.database import insert_for

FRAUD_CHECKS = "fraud-checks"  # the actor of the checks' decisions
PENDING, HELD, REJECTED, IGNORED = "pending", "held", "rejected", "ignored"


def prints_of(key: bytes, signals: SignUpSignals) -> list[fp.Fingerprint]:
    found = []
    if signals.email:
        found.append(fp.digest(key, fp.EMAIL, fp.canonical_email(signals.email)))
    for kind, value in (
        (fp.PHONE, signals.phone),
        (fp.DEVICE, signals.device_id),
        (fp.CLIENT, signals.client_address),
    ):
        if value:
            found.append(fp.digest(key, kind, value))
    return found


async def keep_prints(
    s: AsyncSession, member_id: int, prints: list[fp.Fingerprint], now: datetime
) -> None:
    await _keep_all(s, [(member_id, prints, now)])


async def _keep_all(
    s: AsyncSession,
    unkept: list[tuple[int, list[fp.Fingerprint], datetime]],
    uncoded: dict[int, datetime] | None = None,
) -> None:
    """Members' fingerprints (member, prints, when) in one statement, and their codes (made
    at when); both are emptied."""
    values = [
        {"member_id": member_id, "kind": p.kind, "digest": p.digest, "created_at": at}
        for member_id, prints, at in unkept
        for p in prints
    ]
    unkept.clear()
    if values:
        await s.execute(insert_for(s)(ReferralFingerprint).on_conflict_do_nothing(), values)
    if uncoded:
        await codes.codes_of(s, dict(uncoded))
        uncoded.clear()


async def signed_up(s: AsyncSession, run: Sequence[tuple[MemberSignedUp, datetime]]) -> None:
    """New members, in the order they joined: their prints kept and a code made, as if one
    by one: a referral code is screened after the members before it have theirs, before its
    own prints are kept (the velocity count must not see the sign-up's own client address)."""
    key = await fp.fingerprint_key(s)
    unkept: list[tuple[int, list[fp.Fingerprint], datetime]] = []
    uncoded: dict[int, datetime] = {}
    for event, now in run:
        if event.member_id is None:
            continue
        signals = signals_of(s, event.member_id) or SignUpSignals()
        prints = prints_of(key, signals)
        if signals.referral_code is not None:
            await _keep_all(s, unkept, uncoded)
            await _screen(s, event.member_id, signals, key, prints, now)
        unkept.append((event.member_id, prints, now))
        uncoded.setdefault(event.member_id, now)
    await _keep_all(s, unkept, uncoded)


async def _screen(
    s: AsyncSession,
    friend_id: int,
    signals: SignUpSignals,
    key: bytes,
    prints: list[fp.Fingerprint],
    now: datetime,
) -> None:
    raw = signals.referral_code
    if raw is None:
        return
    client = next((p.digest for p in prints if p.kind == fp.CLIENT), None)
    row = Referral(
        friend_id=friend_id,
        code=raw[:64],
        state=IGNORED,
        risk_score=0,
        reasons=[],
        client_digest=client,
        created_at=now,
        updated_at=now,
    )
    code = codes.normalise_code(raw)
    spec = (await current_file(s)).referrals
    referrer_id = await codes.owner_of(s, code) if code else None
    if code is not None:
        row.code = code
    row.referrer_id = referrer_id
    notice = await _unusable(s, code, referrer_id, spec is not None)
    if notice is not None or referrer_id is None or spec is None or code is None:
        row.notice = (notice or ReferralsError.UNKNOWN_REFERRAL_CODE).value
        s.add(row)
        await s.flush()
        _decided(s, row, "ignore", [row.notice], now)
        return
    email = fp.canonical_email(signals.email) if signals.email else None
    candidate = Candidate(friend_id, referrer_id, code, email, prints)
    verdict = await assess_sign_up(s, key, candidate, spec.fraud, now)
    s.add(row)
    await apply_verdict(s, row, verdict, now)


async def _unusable(
    s: AsyncSession, code: str | None, referrer_id: int | None, open_: bool
) -> ReferralsError | None:
    if code is None:
        return ReferralsError.INVALID_REFERRAL_CODE
    if referrer_id is None:
        return ReferralsError.UNKNOWN_REFERRAL_CODE
    found = await members.members_by_ids(s, [referrer_id])
    if not found or found[0].status != "active":
        return ReferralsError.REFERRER_INACTIVE
    if not open_:
        return ReferralsError.REFERRALS_CLOSED
    return None


async def apply_verdict(s: AsyncSession, row: Referral, verdict: Verdict, now: datetime) -> None:
    row.risk_score = verdict.score
    row.reasons = verdict.reason_codes
    if verdict.decision == Decision.BLOCK:
        row.state = REJECTED
        row.notice = (
            ReferralsError.OWN_REFERRAL_CODE
            if verdict.self_referral
            else ReferralsError.REFERRAL_REFUSED
        ).value
    elif verdict.decision == Decision.HOLD:
        row.state, row.notice = HELD, ReferralsError.REFERRAL_UNDER_REVIEW.value
    else:
        row.state, row.notice = PENDING, None
    await s.flush()
    _decided(s, row, verdict.decision.value, verdict.reason_codes, now)
    assert row.referrer_id is not None
    reasons = ",".join(verdict.reason_codes)
    common = {"member_id": row.friend_id, "referral_id": row.id, "referrer_id": row.referrer_id}
    if row.state == REJECTED:
        emit(s, ReferralRejected(**common, reasons=reasons), now)
    elif row.state == HELD:
        emit(s, ReferralHeld(**common, risk_score=row.risk_score, reasons=reasons), now)
    else:
        emit(s, ReferralSignedUp(**common, risk_score=row.risk_score), now)


def _decided(
    s: AsyncSession,
    row: Referral,
    decision: str,
    reasons: list[str],
    now: datetime,
    actor: str = FRAUD_CHECKS,
    note: str | None = None,
) -> None:
    s.add(
        ReferralDecision(
            referral_id=row.id,
            decision=decision,
            actor=actor,
            risk_score=row.risk_score,
            reasons=reasons,
            note=note,
            decided_at=now,
        )
    )


record_decision = _decided
