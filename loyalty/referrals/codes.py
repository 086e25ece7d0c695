"""Personal referral codes: eight characters from an alphabet without look-alikes (no 0/O,
1/I/L), read case-insensitively with spaces and dashes ignored."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
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
    return (await codes_of(s, {member_id: now}))[member_id]


async def codes_of(s: AsyncSession, made_at: Mapping[int, datetime]) -> dict[int, str]:
    """`code_of` for many members (a new code dated as `made_at` says): one query for those
    who have one, one insert for the others and one query to read theirs back."""
    found = await _codes(s, list(made_at))
    while missing := [m for m in made_at if m not in found]:
        # A clash with another member's code (about 1 in 10^12) draws again.
        values = [{"member_id": m, "code": new_code(), "created_at": made_at[m]} for m in missing]
        await s.execute(insert_for(s)(ReferralCode).on_conflict_do_nothing(), values)
        found.update(await _codes(s, missing))
    return found


async def _codes(s: AsyncSession, member_ids: Sequence[int]) -> dict[int, str]:
    rows = await s.execute(
        select(ReferralCode.member_id, ReferralCode.code).where(
            ReferralCode.member_id.in_(member_ids)
        )
    )
    return {member_id: code for member_id, code in rows}


async def owner_of(s: AsyncSession, code: str) -> int | None:
    found: int | None = await s.scalar(
        select(ReferralCode.member_id).where(ReferralCode.code == code)
    )
    return found
