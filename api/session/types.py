"""GraphQL types of sessions: the tokens a signed-in member holds."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

if TYPE_CHECKING:
    from loyalty.auth.service import IssuedSession


@strawberry.type(
    description="Tokens for a signed-in member. Send the access token as "
    "`Authorization: Bearer …`; trade the refresh token for new ones before "
    "`expiresAt`. Each refresh token works once."
)
class Session:
    access_token: str
    refresh_token: str
    expires_at: datetime

    @classmethod
    def from_issued(cls, issued: IssuedSession) -> Session:
        return cls(
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
            expires_at=issued.expires_at,
        )
