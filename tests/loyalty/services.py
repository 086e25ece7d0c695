"""Helpers for the domain tests: services built the way `api.wiring.build_services` builds them
(with cheap password hashing so the suite stays fast) and a few shortcuts into the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from loyalty.auth.passwords import PasswordHasher
from loyalty.auth.service import AuthService, SignInLimits
from loyalty.auth.tokens import AccessTokens
from loyalty.core.clock import FixedClock
from loyalty.members import service as members
from loyalty.members.models import Member
from loyalty.members.signals import NO_SIGNALS
from loyalty.storage.database import Database

TOKEN_SECRET = b"k" * 40
ACCESS_TTL = timedelta(minutes=15)
STRONG_PASSWORD = "lantaarnpaal-fietsbel-42"


def cheap_hasher(time_cost: int = 1) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=1024)


def make_auth(
    db: Database,
    clock: FixedClock,
    *,
    hasher: PasswordHasher | None = None,
    limits: SignInLimits | None = None,
    refresh_ttl: timedelta = timedelta(days=30),
    session_lifetime: timedelta = timedelta(days=180),
) -> AuthService:
    return AuthService(
        db,
        clock,
        AccessTokens(TOKEN_SECRET, ACCESS_TTL, clock),
        hasher or cheap_hasher(),
        limits=limits,
        refresh_ttl=refresh_ttl,
        session_lifetime=session_lifetime,
    )


async def add_member(
    db: Database,
    clock: FixedClock,
    email: str | None = "member@example.com",
    *,
    profile: dict[str, object] | None = None,
    consents: dict[str, bool] | None = None,
) -> Member:
    """A member inserted straight through the domain function, committed."""
    async with db.unit_of_work() as uow:
        member = await members.create_member(
            uow.session,
            signals=NO_SIGNALS,
            now=clock.now(),
            email=email,
            password_hash=None,
            profile=profile or {},
            consents=consents or {},
        )
        await uow.commit()
    return member


async def set_status(db: Database, member_id: int, status: str) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            update(Member).where(Member.id == member_id).values(status=status)
        )
        await uow.commit()
