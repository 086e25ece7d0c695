"""Per-request context: who is calling, the services, and the request's DataLoaders."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from api.core.client_address import client_address
from api.core.loaders import Loaders
from api.core.services import Services
from loyalty.auth.apikeys import Integration, is_api_key
from loyalty.auth.errors import AuthError
from loyalty.auth.service import MemberPrincipal
from loyalty.auth.tokens import looks_like_own_token
from loyalty.core.errors import DomainError
from loyalty.members.signals import SignUpSignals

Principal = MemberPrincipal | Integration | None


@dataclass
class Context:
    services: Services
    request: HTTPConnection
    response: Any
    loaders: Loaders
    principal: Principal = None
    # Why the credentials that came with the request were refused, if they were.
    auth_error: DomainError | None = None
    connection_params: dict[str, Any] | None = field(default=None)
    authorization: str | None = None

    checked_at: float = 0.0

    async def reauthenticate(self, fresh_for: float = 1.0) -> None:
        """Check the credentials given at connection time again, unless that was just now."""
        if time.monotonic() - self.checked_at > fresh_for:
            await apply_credentials(self, self.authorization)

    @property
    def client_address(self) -> str | None:
        """The caller's address; behind trusted proxies the one they forwarded."""
        peer = self.request.client.host if self.request.client else None
        proxies = self.services.settings.trusted_proxies
        if not proxies:
            return peer
        return client_address(peer, self.request.headers.get("x-forwarded-for"), proxies)

    @property
    def user_agent(self) -> str | None:
        return self.request.headers.get("user-agent")


async def authenticate(
    services: Services, authorization: str | None, client: str | None = None
) -> Principal:
    """Resolve an `Authorization` value (`Bearer …`) to a member or an integration."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise DomainError(AuthError.INVALID_TOKEN, "Use `Authorization: Bearer <token>`")
    if is_api_key(credential):
        return await services.auth.authenticate_integration(credential)
    if services.identity is not None and not looks_like_own_token(credential):
        identity = await services.identity.verify(credential)
        # A first visit signs the member up: the referral checks get what a sign-up has.
        signals = SignUpSignals(client_address=client, referral_code=identity.referral_code)
        return await services.auth.member_for_subject(
            identity.subject, identity.email, identity.email_verified, signals
        )
    return await services.auth.authenticate_member(credential)


async def apply_credentials(context: Context, authorization: str | None) -> None:
    context.authorization = authorization
    context.checked_at = time.monotonic()
    try:
        context.principal = await authenticate(
            context.services, authorization, context.client_address
        )
    except DomainError as exc:
        context.principal, context.auth_error = None, exc
