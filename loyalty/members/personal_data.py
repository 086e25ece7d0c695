"""What members holds: the profile (sealed personal data, preferences, identifiers) and the
consents. On erasure the member's data key is deleted, which leaves the sealed profile
unreadable, and the rest of what identifies them is blanked or replaced; the row stays (the
ledger, purchases and reports refer to it) with the status `erased`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.identifiers import new_card_barcode, new_member_number
from loyalty.core.personal_data import Holding, PersonalDataRegistry, plain, rows_of
from loyalty.members.models import PERSONAL_FIELDS, Member, MemberConsent

ERASED = "erased"


async def _profile(session: AsyncSession, member_id: int) -> Any:
    member = await session.get(Member, member_id)
    if member is None:
        return None
    fields = (
        "id", "member_number", "card_barcode", *PERSONAL_FIELDS, "locale",
        "preferred_channel", "interests", "time_zone", "status", "external_subject",
        "joined_at", "updated_at",
    )  # fmt: skip
    profile = {name: plain(getattr(member, name)) for name in fields}
    profile["has_password"] = member.password_hash is not None
    return profile


async def _erase_profile(session: AsyncSession, member_id: int, now: datetime) -> None:
    member = await session.get(Member, member_id)
    if member is None:
        return
    member.forget_personal_data()
    member.locale = None
    member.preferred_channel = None
    member.interests = []
    member.time_zone = None
    member.password_hash = None
    member.external_subject = None
    member.member_number = await _unused_number(session)
    member.card_barcode = new_card_barcode()
    member.status = ERASED
    member.updated_at = now


async def _unused_number(session: AsyncSession) -> str:
    while True:
        number = new_member_number()
        if await session.scalar(select(Member.id).where(Member.member_number == number)) is None:
            return number


async def _values(session: AsyncSession, member_id: int) -> list[str]:
    member = await session.get(Member, member_id)
    if member is None or member.data_key is None:
        return []
    found = [getattr(member, name) for name in PERSONAL_FIELDS]
    found += [member.member_number, member.card_barcode, member.external_subject]
    return [v.isoformat() if hasattr(v, "isoformat") else str(v) for v in found if v]


async def _withdraw_consents(session: AsyncSession, member_id: int, now: datetime) -> None:
    rows = await session.scalars(select(MemberConsent).where(MemberConsent.member_id == member_id))
    for consent in rows:
        consent.granted = False
        consent.updated_at = now
        consent.source = ERASED


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "members",
            "profile",
            ("members",),
            _profile,
            _erase_profile,
            _values,
            erasure="data key deleted (the sealed profile is unreadable), preferences, "
            "password and identity-provider subject blanked, member number and card "
            "replaced, status `erased`; the row stays for the books",
        )
    )
    registry.add(
        Holding(
            "members",
            "consents",
            ("member_consents",),
            rows_of(MemberConsent),
            _withdraw_consents,
            erasure="withdrawn (history: the events section)",
        )
    )
