"""Short-lived signed access tokens for members (JWT, HS256)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from loyalty.auth.errors import AuthError
from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError

ISSUER = "trouw"
AUDIENCE = "trouw:member"


@dataclass(frozen=True)
class AccessClaims:
    member_id: int
    session_id: int
    expires_at: datetime


class AccessTokens:
    def __init__(self, secret: bytes, ttl: timedelta, clock: Clock) -> None:
        if len(secret) < 32:
            raise ValueError("the token signing key must be at least 32 bytes")
        self._secret = secret
        self.ttl = ttl
        self._clock = clock

    def issue(self, member_id: int, session_id: int) -> tuple[str, datetime]:
        now = self._clock.now()
        expires_at = now + self.ttl
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(member_id),
            "sid": str(session_id),
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._secret, algorithm="HS256"), expires_at.replace(
            microsecond=0
        )

    def verify(self, token: str) -> AccessClaims:
        try:
            # Expiry is checked against our own clock below, so tests can move time.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "sub", "sid", "iss", "aud"],
                },
            )
            member_id, session_id, exp = int(claims["sub"]), int(claims["sid"]), int(claims["exp"])
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise DomainError(AuthError.INVALID_TOKEN, "The access token is not valid") from None
        if self._clock.now().timestamp() >= exp:
            raise DomainError(
                AuthError.TOKEN_EXPIRED, "The access token has expired; refresh the session"
            )
        return AccessClaims(member_id, session_id, datetime.fromtimestamp(exp, tz=UTC))


def looks_like_own_token(token: str) -> bool:
    """Whether a bearer JWT was issued by Trouw itself (rather than the brand's provider)."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss") == ISSUER
    except jwt.InvalidTokenError:
        return False
