"""Personal referral codes: eight characters from an alphabet without look-alikes (no 0/O,
1/I/L), read case-insensitively with spaces and dashes ignored."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.referrals.models import ReferralCode
from loyalty.storage.database import insert_for

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 8
_SHAPE = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise_code(raw: str) -> str | None:
    """The code as stored, or None when `raw` cannot be a code."""
    code = re.sub(r"[\s-]", "", raw).upper()
    return code if _SHAPE.fullmatch(code) else None


async def code_of(s: AsyncSession, member_id: int, now: datetime) -> str:
    """The member's code, made the first time (members who joined before referrals existed
    get theirs when they first ask)."""
    found = await s.scalar(select(ReferralCode.code).where(ReferralCode.member_id == member_id))
    while found is None:
        # A clash with another member's code (about 1 in 10^12) draws again.
        await s.execute(
            insert_for(s)(ReferralCode)
            .values(member_id=member_id, code=new_code(), created_at=now)
            .on_conflict_do_nothing()
        )
        found = await s.scalar(select(ReferralCode.code).where(ReferralCode.member_id == member_id))
    return found


async def owner_of(s: AsyncSession, code: str) -> int | None:
    found: int | None = await s.scalar(
        select(ReferralCode.member_id).where(ReferralCode.code == code)
    )
    return found
