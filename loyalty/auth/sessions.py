"""Member sessions: opening one, issuing its access and refresh tokens, finding and ending it.

A session lives until it is signed out or reaches its lifetime; each refresh token is good
for one use (the refresh hands out the next one), so a token seen twice was stolen or replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.auth.models import AuthSession, RefreshToken
from loyalty.auth.tokens import AccessTokens
from loyalty.core.clock import Clock
from loyalty.core.identifiers import hash_secret, new_secret

REFRESH_PREFIX = "rt_"
MAX_USER_AGENT = 255


@dataclass(frozen=True)
class IssuedSession:
    access_token: str
    refresh_token: str
    expires_at: datetime
    session_id: int
    member_id: int


@dataclass(frozen=True)
class MemberPrincipal:
    member_id: int
    # None for members signed in through the brand's identity provider.
    session_id: int | None


class SessionIssuer:
    """Opens sessions and issues their tokens, inside the caller's transaction."""

    def __init__(
        self,
        clock: Clock,
        tokens: AccessTokens,
        *,
        refresh_ttl: timedelta,
        session_lifetime: timedelta,
    ) -> None:
        self.clock = clock
        self.tokens = tokens
        self.refresh_ttl = refresh_ttl
        self.session_lifetime = session_lifetime

    async def open(self, s: AsyncSession, member_id: int, user_agent: str | None) -> IssuedSession:
        now = self.clock.now()
        auth_session = AuthSession(
            member_id=member_id,
            created_at=now,
            expires_at=now + self.session_lifetime,
            user_agent=(user_agent or "")[:MAX_USER_AGENT] or None,
        )
        s.add(auth_session)
        await s.flush()
        return await self.issue(s, auth_session)

    async def issue(self, s: AsyncSession, auth_session: AuthSession) -> IssuedSession:
        """A new access token and a new refresh token (never past the session's end)."""
        now = self.clock.now()
        plaintext = new_secret(REFRESH_PREFIX)
        s.add(
            RefreshToken(
                session_id=auth_session.id,
                token_hash=hash_secret(plaintext),
                created_at=now,
                expires_at=min(now + self.refresh_ttl, auth_session.expires_at),
            )
        )
        await s.flush()
        access, expires_at = self.tokens.issue(auth_session.member_id, auth_session.id)
        return IssuedSession(access, plaintext, expires_at, auth_session.id, auth_session.member_id)


async def session_of_refresh_token(s: AsyncSession, refresh_token: str) -> AuthSession | None:
    return await s.scalar(
        select(AuthSession)
        .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
        .where(RefreshToken.token_hash == hash_secret(refresh_token))
    )


async def claim_refresh_token(s: AsyncSession, token_id: int, now: datetime) -> bool:
    """Mark the token used; False when it was used already. A conditional update, so of two
    concurrent uses of one token only one can win."""
    claimed = await s.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(getattr(claimed, "rowcount", 0) == 1)


async def open_sessions_of(s: AsyncSession, member_id: int) -> list[int]:
    return list(
        await s.scalars(
            select(AuthSession.id).where(
                AuthSession.member_id == member_id, AuthSession.revoked_at.is_(None)
            )
        )
    )


async def revoke(s: AsyncSession, ids: list[int], now: datetime, reason: str) -> None:
    await s.execute(
        update(AuthSession)
        .where(AuthSession.id.in_(ids), AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
