"""Use cases of referrals: a member's code and share link, an admin's review of a held
referral (approve or reject, recorded with the reasons), and giving due rewards (the job)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError
from loyalty.core.events import ReferralQualified, ReferralRejected, ReferralSignedUp
from loyalty.core.outbox import emit
from loyalty.core.text import has_control_characters
from loyalty.programme.store import current_file
from loyalty.referrals import codes, granting
from loyalty.referrals.errors import ReferralsError
from loyalty.referrals.models import Referral, ReferralDecision
from loyalty.referrals.qualifying import QUALIFIED, QUALIFY, _rowcount, qualified_event
from loyalty.referrals.screening import HELD, PENDING, REJECTED, record_decision
from loyalty.storage.database import Database

MAX_NOTE = 500
APPROVED, REJECTED_BY_ADMIN = "APPROVED_BY_ADMIN", "REJECTED_BY_ADMIN"


@dataclass(frozen=True)
class MemberCode:
    code: str
    share_url: str | None


async def due_referrals(db: Database, now: datetime, limit: int) -> list[int]:
    async with db.unit_of_work(write=False) as uow:
        return list(
            await uow.session.scalars(
                select(Referral.id)
                .where(Referral.state == QUALIFIED, Referral.rewards_due_at <= now)
                .order_by(Referral.rewards_due_at, Referral.id)
                .limit(limit)
            )
        )


async def grant_due(db: Database, referral_id: int, now: datetime) -> bool:
    async with db.unit_of_work() as uow:
        done = await granting.grant(uow.session, referral_id, now)
        await uow.commit()
    return done


class ReferralService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def code_of(self, member_id: int) -> MemberCode:
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            code = await codes.code_of(uow.session, member_id, now)
            spec = (await current_file(uow.session)).referrals
            await uow.commit()
        url = spec.share_url.replace("{code}", code) if spec and spec.share_url else None
        return MemberCode(code, url)

    async def review(
        self, referral_id: int, *, approve: bool, actor: str, note: str | None = None
    ) -> Referral:
        """Approve or reject a held referral; the decision is recorded with its reasons."""
        if note is not None and (len(note) > MAX_NOTE or has_control_characters(note)):
            raise DomainError(
                ReferralsError.INVALID_REVIEW_NOTE,
                f"The note must be at most {MAX_NOTE} characters of text",
                "note",
            )
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            row = await s.get(Referral, referral_id)
            if row is None or row.referrer_id is None:
                raise DomainError(ReferralsError.REFERRAL_NOT_FOUND, "No such referral", "id")
            if row.state != HELD:
                raise DomainError(
                    ReferralsError.REFERRAL_NOT_HELD, "Only held referrals are reviewed", "id"
                )
            bought = row.purchase_id is not None
            state = (QUALIFIED if bought else PENDING) if approve else REJECTED
            moved = await s.execute(
                update(Referral)
                .where(Referral.id == row.id, Referral.state == HELD)
                .values(state=state, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(moved) != 1:  # another admin's review won
                raise DomainError(
                    ReferralsError.REFERRAL_NOT_HELD, "Only held referrals are reviewed", "id"
                )
            reasons = [APPROVED if approve else REJECTED_BY_ADMIN, *row.reasons]
            before = set(
                await s.scalars(
                    select(ReferralDecision.decision).where(ReferralDecision.referral_id == row.id)
                )
            )
            record_decision(s, row, "approve" if approve else "reject", reasons, now, actor, note)
            _announce(s, row, state, reasons, before, now)
            await uow.commit()
        row.state = state
        return row


def _announce(
    s: AsyncSession,
    row: Referral,
    state: str,
    reasons: list[str],
    before: set[str],
    now: datetime,
) -> None:
    """The events of a review: what the referral now is, and only what was not sent before
    (a referral held after it was let through, or after it qualified, announced that)."""
    assert row.referrer_id is not None
    common = {"member_id": row.friend_id, "referral_id": row.id, "referrer_id": row.referrer_id}
    if state == REJECTED:
        emit(s, ReferralRejected(**common, reasons=",".join(reasons)), now)
        return
    if not before & {"allow", "approve"}:
        emit(s, ReferralSignedUp(**common, risk_score=row.risk_score), now)
    if state == QUALIFIED and row.rewards_due_at is not None and QUALIFY not in before:
        record_decision(s, row, QUALIFY, [], now)
        event: ReferralQualified = qualified_event(
            row, row.purchase_external_id or "", row.amount, row.rewards_due_at
        )
        emit(s, event, now)
