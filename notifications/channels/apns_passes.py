"""Wallet pass update pushes. APNs takes them only over a connection authenticated with the
pass type id's certificate (TLS client authentication), not with the team's token key, and
only in production. The message is the same as any `send_raw`: an empty `{}` to the device's
push token with the pass type id as the topic; the answers map onto `PushResult` the same way.
"""

from __future__ import annotations

import os
import ssl
import time

import httpx

from notifications.channels.apns import (
    APNS_PRODUCTION,
    DEFAULT_EXPIRATION,
    ApnsSender,
    reason_of,
    result_of,
    unreachable,
)
from notifications.channels.base import PushResult


class PassUpdateSender(ApnsSender):
    """APNs over one HTTP/2 connection that presents the pass type certificate."""

    def __init__(
        self,
        certificate_file: str | os.PathLike[str],
        key_file: str | os.PathLike[str],
        pass_type_id: str,
        base_url: str = APNS_PRODUCTION,
        ca_file: str | os.PathLike[str] | None = None,
        key_password: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        # No provider token here: the certificate is the credential (ApnsSender's JWT parts
        # are left unset and never used).
        self.topic = pass_type_id
        self._clock = time.time
        self._expiration = DEFAULT_EXPIRATION
        context = ssl.create_default_context(cafile=os.fspath(ca_file) if ca_file else None)
        context.load_cert_chain(certificate_file, key_file, password=key_password)
        self._http = httpx.AsyncClient(
            http2=True, base_url=base_url, verify=context, timeout=timeout
        )

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> PushResult:
        try:
            response = await self._http.post(path, content=body, headers=headers)
        except httpx.TransportError as exc:
            return unreachable(exc)
        return result_of(response, reason_of(response))
