"""The codes of the auth area's expected failures: sign-up, sign-in, sessions, API keys."""

# ruff: noqa: S105 - the names and values are error codes, not secrets

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class AuthError(ErrorCode):
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"  # email or password wrong (never says which)
    RATE_LIMITED = "RATE_LIMITED"  # too many sign-in or sign-up attempts
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"  # the member is blocked or closed
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED"  # the whole session is signed out
    UNAUTHENTICATED = "UNAUTHENTICATED"  # no session to act on
    SESSION_REVOKED = "SESSION_REVOKED"  # signed out, or past its lifetime
    INVALID_TOKEN = "INVALID_TOKEN"  # an access token that is malformed or badly signed
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # an access token past its expiry: refresh
    INVALID_API_KEY = "INVALID_API_KEY"  # unknown, revoked or malformed
    INVALID_NAME = "INVALID_NAME"  # an API key's name
    INVALID_SCOPE = "INVALID_SCOPE"  # an API key's scopes
