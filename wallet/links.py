"""Signed, short-lived download links: whoever holds one gets that pass, until it expires,
without other credentials. The signature is an HMAC of the serial number and the expiry with
the installation's secret; nothing is stored."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from loyalty.core.clock import Clock

DOWNLOAD_PATH = "/wallet/passes/{serial}.pkpass"


class DownloadLinks:
    def __init__(self, secret: bytes, base_url: str, ttl_seconds: int, clock: Clock) -> None:
        self._secret = secret
        self._base_url = base_url
        self._ttl = ttl_seconds
        self._clock = clock

    def _signature(self, serial: str, expires: int) -> str:
        message = f"pkpass:{serial}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, serial: str) -> str:
        expires = int(self._clock.now().timestamp()) + self._ttl
        path = DOWNLOAD_PATH.format(serial=quote(serial, safe=""))
        return (
            f"{self._base_url}{path}?expires={expires}&signature={self._signature(serial, expires)}"
        )

    def valid(self, serial: str, expires: str | None, signature: str | None) -> bool:
        if not expires or not expires.isdigit() or not signature:
            return False
        if int(expires) <= self._clock.now().timestamp():
            return False
        return hmac.compare_digest(self._signature(serial, int(expires)), signature)
