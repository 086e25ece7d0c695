"""Members who sign in through the brand's own identity provider: their subject (the
provider's id for them) is mapped to a member of ours, created on their first visit or linked
to the member who already has their verified email address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from loyalty.core.errors import DomainError
from loyalty.members import service as members
from loyalty.members.contact import normalise_email
from loyalty.members.models import Member
from loyalty.members.signals import SignUpSignals
from loyalty.storage.database import Database

IDENTITY_PROVIDER = "identity_provider"  # how these members came in (their consents' source)


async def member_of_subject(db: Database, subject: str) -> Member | None:
    async with db.unit_of_work(write=False) as uow:
        return await uow.session.scalar(select(Member).where(Member.external_subject == subject))


async def provision(
    db: Database,
    now: datetime,
    subject: str,
    email: str | None,
    email_verified: bool,
    signals: SignUpSignals,
) -> Member:
    """The member for `subject`: found, linked by a verified email, or created. Joining this
    way is a sign-up like any other (it emits `member.signed_up`)."""
    async with db.unit_of_work() as uow:
        s = uow.session
        # Checked again under the write lock: a parallel first request may have won.
        member = await s.scalar(select(Member).where(Member.external_subject == subject))
        if member is None:
            clean_email = safe_email(email)
            existing = await members.member_by_email(s, clean_email) if clean_email else None
            if existing and email_verified and existing.external_subject is None:
                existing.external_subject = subject
                member = existing
            else:
                # An unverified address that another member has is not taken over: the
                # new member joins without one.
                member = await members.create_member(
                    s,
                    now=now,
                    email=None if existing else clean_email,
                    password_hash=None,
                    profile={},
                    consents={},
                    external_subject=subject,
                    consent_source=IDENTITY_PROVIDER,
                    signals=signals,
                )
            await uow.commit()
    return member


def safe_email(email: str | None) -> str | None:
    """The normalised address, or None when there is none or it is not a valid one."""
    if not email:
        return None
    try:
        return normalise_email(email)
    except DomainError:
        return None
