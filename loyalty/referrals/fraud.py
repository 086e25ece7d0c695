"""The one fraud service: every sign-up with a referral code is assessed here, whichever way
the friend came in (the app, the brand's identity provider, an import), because it runs as
the referrals area's reaction to `member.signed_up`, which `members.create_member` emits for
every new member with the signals the way in must pass (`loyalty.members.signals`).

It looks for the same person on both sides (email as its provider delivers it, phone, device),
an address a few edits from the referrer's, throwaway mail domains, identities shared
with other members, many sign-ups with one code or from one client address lately, and rings:
a friend who is someone further up the referrer's own chain of referrals. The programme's
policy turns the reasons into a score and a decision (`loyalty.referrals.policy`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.members import service as members
from loyalty.members.contact import normalise_email
from loyalty.programme.referrals_spec import FraudPolicy
from loyalty.referrals import fingerprints as fp
from loyalty.referrals.fingerprints import Fingerprint
from loyalty.referrals.models import Referral, ReferralFingerprint
from loyalty.referrals.policy import Reason, Verdict, decide

IGNORED = "ignored"
MAX_CHAIN = 10  # how far up the referrer's chain a ring is looked for
SAME_KIND = {
    fp.EMAIL: Reason.SAME_EMAIL,
    fp.PHONE: Reason.SAME_PHONE,
    fp.DEVICE: Reason.SAME_DEVICE,
    fp.PAYMENT: Reason.SAME_PAYMENT,
}


@dataclass(frozen=True)
class Candidate:
    """A friend who signed up with a referrer's code, as the checks see them."""

    friend_id: int
    referrer_id: int
    code: str
    email: str | None  # canonical
    prints: Sequence[Fingerprint]

    @property
    def identity(self) -> set[Fingerprint]:
        return {p for p in self.prints if p.kind in fp.IDENTITY_KINDS}

    @property
    def client(self) -> Fingerprint | None:
        return next((p for p in self.prints if p.kind == fp.CLIENT), None)


async def assess_sign_up(
    s: AsyncSession, key: bytes, candidate: Candidate, policy: FraudPolicy, now: datetime
) -> Verdict:
    reasons: set[Reason] = set()
    referrer_email, referrer_prints = await _referrer(s, key, candidate.referrer_id)
    for p in candidate.identity & referrer_prints:
        reasons.add(SAME_KIND[p.kind])
    if (
        candidate.email
        and referrer_email
        and candidate.email != referrer_email
        and fp.looks_alike(candidate.email, referrer_email, policy.email_edit_distance)
    ):
        reasons.add(Reason.EMAIL_LOOKALIKE)
    if candidate.email and fp.is_disposable(candidate.email):
        reasons.add(Reason.DISPOSABLE_EMAIL)
    chain = await _upline(s, candidate.referrer_id)
    if chain and await _holders(s, candidate.identity, chain):
        reasons.add(Reason.REFERRAL_RING)
    exclude = {candidate.friend_id, candidate.referrer_id, *chain}
    if await _holders(s, candidate.identity, None, exclude):
        reasons.add(Reason.SHARED_IDENTITY)
    since = now - timedelta(hours=policy.velocity_window_hours)
    if await _sign_ups_with_code(s, candidate, since) >= policy.max_sign_ups_per_code:
        reasons.add(Reason.CODE_VELOCITY)
    client = candidate.client
    if client and await _sign_ups_from(s, client, candidate.friend_id, since) >= (
        policy.max_sign_ups_per_client
    ):
        reasons.add(Reason.CLIENT_VELOCITY)
    return decide(reasons, policy)


async def _referrer(
    s: AsyncSession, key: bytes, referrer_id: int
) -> tuple[str | None, set[Fingerprint]]:
    """The referrer's canonical email and every fingerprint they have: those kept since they
    joined, and those of their email and phone now (members who joined before referrals
    existed have no kept ones)."""
    rows = await s.execute(
        select(ReferralFingerprint.kind, ReferralFingerprint.digest).where(
            ReferralFingerprint.member_id == referrer_id
        )
    )
    prints = {Fingerprint(kind, digest) for kind, digest in rows}
    found = await members.members_by_ids(s, [referrer_id])
    email: str | None = None
    if found:
        member = found[0]
        if member.email:
            email = fp.canonical_email(normalise_email(member.email))
            prints.add(fp.digest(key, fp.EMAIL, email))
        if member.phone:
            prints.add(fp.digest(key, fp.PHONE, member.phone))
    return email, prints


async def _upline(s: AsyncSession, referrer_id: int) -> list[int]:
    """Who referred the referrer, who referred them, … (at most MAX_CHAIN, no repeats)."""
    chain: list[int] = []
    current = referrer_id
    for _ in range(MAX_CHAIN):
        above = await s.scalar(
            select(Referral.referrer_id).where(
                Referral.friend_id == current, Referral.state != IGNORED
            )
        )
        if above is None or above in chain or above == referrer_id:
            break
        chain.append(above)
        current = above
    return chain


async def _holders(
    s: AsyncSession,
    prints: Collection[Fingerprint],
    among: Collection[int] | None,
    exclude: Collection[int] = (),
) -> set[int]:
    """The members (of `among`, if given) who have any of `prints`."""
    found: set[int] = set()
    for p in prints:
        query = select(ReferralFingerprint.member_id).where(
            ReferralFingerprint.kind == p.kind, ReferralFingerprint.digest == p.digest
        )
        if among is not None:
            query = query.where(ReferralFingerprint.member_id.in_(among))
        if exclude:
            query = query.where(ReferralFingerprint.member_id.not_in(exclude))
        found.update(await s.scalars(query.limit(20)))
    return found


async def _sign_ups_with_code(s: AsyncSession, candidate: Candidate, since: datetime) -> int:
    count = await s.scalar(
        select(func.count()).where(
            Referral.code == candidate.code,
            Referral.created_at >= since,
            Referral.friend_id != candidate.friend_id,
        )
    )
    return int(count or 0)


async def _sign_ups_from(
    s: AsyncSession, client: Fingerprint, friend_id: int, since: datetime
) -> int:
    count = await s.scalar(
        select(func.count()).where(
            ReferralFingerprint.kind == client.kind,
            ReferralFingerprint.digest == client.digest,
            ReferralFingerprint.created_at >= since,
            ReferralFingerprint.member_id != friend_id,
        )
    )
    return int(count or 0)
