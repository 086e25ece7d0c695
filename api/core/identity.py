"""Access tokens from the brand's own identity provider (OIDC-style JWTs)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import jwt

from loyalty.auth.errors import AuthError
from loyalty.core.errors import DomainError


@dataclass(frozen=True)
class ExternalIdentity:
    subject: str
    email: str | None
    email_verified: bool
    # A friend's code, when the brand's sign-up page puts one in the token.
    referral_code: str | None = None


class ExternalTokenVerifier:
    def __init__(
        self,
        issuer: str,
        *,
        audience: str | None,
        algorithms: list[str],
        jwks_url: str | None = None,
        public_key: str | None = None,
    ) -> None:
        if not (jwks_url or public_key):
            raise ValueError("the identity provider needs a JWKS URL or a public key")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self._public_key = public_key
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600) if jwks_url else None

    def is_ours(self, token: str) -> bool:
        try:
            return jwt.decode(token, options={"verify_signature": False}).get("iss") == self.issuer
        except jwt.InvalidTokenError:
            return False

    async def verify(self, token: str) -> ExternalIdentity:
        try:
            if self._jwks is not None:
                # The JWKS client fetches over blocking HTTP (cached afterwards).
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: object = signing_key.key
            else:
                key = self._public_key
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=self.algorithms,
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "sub", "iss"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise DomainError(
                AuthError.TOKEN_EXPIRED, "The identity provider's token has expired"
            ) from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError):
            raise DomainError(AuthError.INVALID_TOKEN, "The access token is not valid") from None
        return ExternalIdentity(
            subject=str(claims["sub"]),
            email=claims.get("email"),
            email_verified=bool(claims.get("email_verified", False)),
            referral_code=_text_claim(claims.get(REFERRAL_CLAIM)),
        )


REFERRAL_CLAIM = "referral_code"


def _text_claim(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
