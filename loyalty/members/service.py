"""Members: joining, finding them, the profile they keep and the consents they give per
channel. The profile's fields and their checks are in `loyalty.members.profile`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, NotFound
from loyalty.core.events import ConsentChanged, MemberSignedUp, ProfileCompleted, ProfileUpdated
from loyalty.core.identifiers import new_card_barcode, new_member_number, normalise_member_number
from loyalty.core.outbox import emit
from loyalty.core.personal import keyring_of
from loyalty.members.errors import MembersError
from loyalty.members.models import Member, MemberConsent
from loyalty.members.profile import (
    CONTACT_CHANNELS,
    MAX_INTERESTS,
    PROFILE_FIELDS,
    UNSET,
    ProfileInput,
    Unset,
    clean_profile,
    profile_complete,
)
from loyalty.members.signals import SignUpSignals, remember
from loyalty.programme.store import current_settings
from loyalty.storage.database import Database
from loyalty.storage.numbering import flush_many

CONSENT_CHANNELS = ("email", "sms", "push", "in_app", "personalisation")
STATUSES = ("active", "blocked", "closed")
# How members brought over from another platform come in (`trouw members import`).
IMPORTED = "import"

__all__ = [
    "CONSENT_CHANNELS",
    "CONTACT_CHANNELS",
    "IMPORTED",
    "MAX_INTERESTS",
    "PROFILE_FIELDS",
    "STATUSES",
    "UNSET",
    "NewMember",
    "ProfileInput",
    "ProfileService",
    "Unset",
    "clean_profile",
    "consents_for",
    "create_member",
    "create_members",
    "email_in_use",
    "member_by_card",
    "member_by_email",
    "member_by_number",
    "member_ids_by_email",
    "members_by_ids",
    "profile_complete",
    "set_consent",
    "update_profile",
]


async def email_in_use(session: AsyncSession, email: str) -> bool:
    index = keyring_of(session).blind(email)
    found = await session.scalar(select(Member.id).where(Member.email_index == index))
    return found is not None


@dataclass(frozen=True)
class NewMember:
    """A member to insert: `email` normalised, `profile` cleaned; they joined at `joined_at`
    (their consents and `member.signed_up` are dated then too)."""

    email: str | None
    profile: dict[str, object]
    consents: dict[str, bool]
    joined_at: datetime
    password_hash: str | None = None
    external_subject: str | None = None


async def create_member(
    session: AsyncSession,
    *,
    now: datetime,
    email: str | None,
    password_hash: str | None,
    profile: dict[str, object],
    consents: dict[str, bool],
    signals: SignUpSignals,
    external_subject: str | None = None,
    consent_source: str = "member",
) -> Member:
    """Insert a member; `email` must already be normalised and `profile` cleaned.
    `consent_source` says how the member came in (member: the app, identity_provider, demo…).
    `signals` (device, client address, referral code) are required of every way in: the
    referrals area's fraud checks react to `member.signed_up` with them."""
    new = NewMember(email, profile, consents, now, password_hash, external_subject)
    (member,) = await create_members(session, [new], signals=signals, consent_source=consent_source)
    return member


async def create_members(
    session: AsyncSession,
    new: Sequence[NewMember],
    *,
    signals: SignUpSignals,
    consent_source: str,
) -> list[Member]:
    """`create_member` for many members at once (an import), in a few statements however many
    there are; each gets `signals` (what the way in knows) with their own email and phone."""
    emails = [n.email for n in new if n.email is not None]
    if emails and await member_ids_by_email(session, emails):
        raise DomainError(
            MembersError.EMAIL_TAKEN, "An account with this email already exists", "email"
        )
    numbers = await _unused_member_numbers(session, len(new))
    members = [_member(n, number) for n, number in zip(new, numbers, strict=True)]
    session.add_all(members)
    try:
        await flush_many(session)
    except IntegrityError as exc:
        # A concurrent sign-up with the same address won the race.
        if "email_index" in str(exc.orig).lower():
            raise DomainError(
                MembersError.EMAIL_TAKEN, "An account with this email already exists", "email"
            ) from None
        raise
    # Plain rows, not objects: an import writes five a member.
    consents = [
        {
            "member_id": member.id,
            "channel": channel,
            "granted": n.consents.get(channel, False),
            "updated_at": n.joined_at,
            "source": consent_source,
        }
        for member, n in zip(members, new, strict=True)
        for channel in CONSENT_CHANNELS
    ]
    await session.execute(insert(MemberConsent), consents)
    # Every way in (the app, the identity provider, an import) says so the same way.
    for member, n in zip(members, new, strict=True):
        phone = n.profile.get("phone")
        remember(session, member.id, signals, n.email, phone if isinstance(phone, str) else None)
        emit(session, MemberSignedUp(member_id=member.id, channel=consent_source), n.joined_at)
    return members


def _member(new: NewMember, number: str) -> Member:
    member = Member(
        member_number=number,
        card_barcode=new_card_barcode(),
        email=new.email,
        password_hash=new.password_hash,
        external_subject=new.external_subject,
        status="active",
        interests=[],
        joined_at=new.joined_at,
        updated_at=new.joined_at,
    )
    for name, value in new.profile.items():
        setattr(member, name, value)
    return member


async def _unused_member_numbers(session: AsyncSession, count: int) -> list[str]:
    # Nine random digits: with many members a fresh draw is sometimes taken already.
    numbers: set[str] = set()
    while len(numbers) < count:
        drawn = {new_member_number() for _ in range(count - len(numbers))} - numbers
        taken = await session.scalars(
            select(Member.member_number).where(Member.member_number.in_(drawn))
        )
        numbers |= drawn - set(taken)
    return list(numbers)


async def update_profile(
    session: AsyncSession, member: Member, values: dict[str, object], now: datetime
) -> Member:
    for name, value in values.items():
        setattr(member, name, value)
    member.updated_at = now
    await session.flush()
    return member


async def set_consent(
    session: AsyncSession,
    member_id: int,
    channel: str,
    granted: bool,
    now: datetime,
    source: str = "member",
) -> MemberConsent:
    if channel not in CONSENT_CHANNELS:
        raise DomainError(
            MembersError.INVALID_CHANNEL,
            f"Channel must be one of {', '.join(CONSENT_CHANNELS)}",
            "channel",
        )
    consent = await session.get(MemberConsent, (member_id, channel))
    if consent is None:
        consent = MemberConsent(member_id=member_id, channel=channel)
        session.add(consent)
    # A repeated answer keeps the moment the member first gave it.
    if consent.granted is None or consent.granted != granted:
        consent.granted = granted
        consent.updated_at = now
        consent.source = source
    await session.flush()
    return consent


async def consents_for(session: AsyncSession, member_ids: Sequence[int]) -> list[MemberConsent]:
    rows = await session.scalars(
        select(MemberConsent)
        .where(MemberConsent.member_id.in_(member_ids))
        .order_by(MemberConsent.member_id, MemberConsent.channel)
    )
    return list(rows)


async def member_by_email(session: AsyncSession, email: str) -> Member | None:
    index = keyring_of(session).blind(email)
    return await session.scalar(select(Member).where(Member.email_index == index))


async def member_ids_by_email(session: AsyncSession, emails: Sequence[str]) -> dict[str, int]:
    """The member id of each (normalised) address that belongs to a member, in one query
    through the blind index."""
    if not emails:
        return {}
    blind = keyring_of(session).blind
    by_index = {blind(email): email for email in emails}
    rows = await session.execute(
        select(Member.email_index, Member.id).where(Member.email_index.in_(list(by_index)))
    )
    return {by_index[index]: member_id for index, member_id in rows if index is not None}


async def member_by_card(session: AsyncSession, barcode_message: str) -> Member | None:
    return await session.scalar(
        select(Member).where(Member.card_barcode == barcode_message.strip())
    )


async def member_by_number(session: AsyncSession, number: str) -> Member | None:
    return await session.scalar(
        select(Member).where(Member.member_number == normalise_member_number(number))
    )


async def member_by_id(session: AsyncSession, member_id: int) -> Member | None:
    """The member, from the session when this transaction loaded them already."""
    return await session.get(Member, member_id)


# Built once: every request that shows a member reads it.
_BY_IDS = select(Member).where(Member.id.in_(bindparam("ids", expanding=True)))


async def members_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[Member]:
    return list(await session.scalars(_BY_IDS, {"ids": list(ids)}))


async def active_member_ids(session: AsyncSession, limit: int) -> list[int]:
    """The ids of up to `limit` active members, oldest first (a campaign's dry run)."""
    query = select(Member.id).where(Member.status == "active").order_by(Member.id).limit(limit)
    return list(await session.scalars(query))


class ProfileService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def update(self, member_id: int, data: ProfileInput) -> Member:
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            settings = await current_settings(uow.session)
            values = clean_profile(
                data, today=now.astimezone(settings.zone).date(), country=settings.country
            )
            member = await uow.session.get(Member, member_id)
            if member is None:
                raise NotFound("Member")
            was_complete = profile_complete(member)
            changed = sorted(k for k, v in values.items() if getattr(member, k) != v)
            await update_profile(uow.session, member, values, now)
            if changed:
                emit(
                    uow.session, ProfileUpdated(member_id=member.id, fields=",".join(changed)), now
                )
            if profile_complete(member) and not was_complete:
                emit(uow.session, ProfileCompleted(member_id=member.id), now)
            await uow.commit()
        return member

    async def set_consent(self, member_id: int, channel: str, granted: bool) -> MemberConsent:
        async with self.db.unit_of_work() as uow:
            now = self.clock.now()
            before = await uow.session.get(MemberConsent, (member_id, channel))
            old = before.granted if before is not None else None
            consent = await set_consent(uow.session, member_id, channel, granted, now)
            if consent.granted != old:  # a repeated answer changes nothing
                event = ConsentChanged(member_id=member_id, channel=channel, granted=granted)
                emit(uow.session, event, now)
            await uow.commit()
        return consent
