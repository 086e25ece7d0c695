"""Integration API keys for tills, web shops and back offices."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit import service as audit
from loyalty.audit.service import Actor
from loyalty.auth.errors import AuthError
from loyalty.auth.models import ApiKey
from loyalty.core.errors import CoreError, DomainError
from loyalty.core.identifiers import hash_secret, secrets_match

PREFIX = "trw_"
# pos: the till (card scans, purchases, returns, codes); members: reading members by id with
# their profile; admin: everything. docs/security.md describes them.
SCOPES = ("pos", "members", "admin")
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Integration:
    """Who is calling with an API key, and what it may do."""

    api_key_id: int
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def is_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


def _split(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] + "_" != PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1], parts[2]


async def create_api_key(
    session: AsyncSession,
    name: str,
    scopes: list[str],
    now: datetime,
    actor: Actor = audit.SYSTEM,
) -> tuple[ApiKey, str]:
    """Create a key; the plaintext is returned once and only its hash is kept. The audit log
    records who made it, in the same transaction."""
    name = name.strip()
    if not name or len(name) > 120:
        raise DomainError(AuthError.INVALID_NAME, "A key needs a name of 1-120 characters", "name")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise DomainError(
            AuthError.INVALID_SCOPE,
            f"Scopes must be among {', '.join(SCOPES)}; got {scopes}",
            "scope",
        )
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(12))
    plaintext = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        key_id=key_id,
        name=name,
        scopes=sorted(set(scopes)),
        secret_hash=hash_secret(plaintext),
        created_at=now,
    )
    session.add(key)
    await session.flush()
    await _audit(session, actor, "apiKey.created", key, now)
    return key, plaintext


async def install_api_key(
    session: AsyncSession, name: str, scopes: list[str], plaintext: str, now: datetime
) -> ApiKey:
    """Store a key whose plaintext is already known (the published demo key)."""
    parts = _split(plaintext)
    if parts is None:
        raise DomainError(AuthError.INVALID_API_KEY, "Not a Trouw API key", "key")
    existing = await session.scalar(select(ApiKey).where(ApiKey.key_id == parts[0]))
    if existing is not None:
        return existing
    key = ApiKey(
        key_id=parts[0],
        name=name,
        scopes=sorted(set(scopes)),
        secret_hash=hash_secret(plaintext),
        created_at=now,
    )
    session.add(key)
    await session.flush()
    return key


async def find_key(session: AsyncSession, token: str) -> ApiKey:
    parts = _split(token)
    key = None
    if parts is not None:
        key = await session.scalar(select(ApiKey).where(ApiKey.key_id == parts[0]))
    if key is None or key.revoked_at is not None or not secrets_match(token, key.secret_hash):
        raise DomainError(AuthError.INVALID_API_KEY, "The API key is unknown or revoked")
    return key


def integration_of(key: ApiKey) -> Integration:
    return Integration(key.id, key.name, frozenset(key.scopes))


def needs_touch(key: ApiKey, now: datetime) -> bool:
    """Whether `last_used_at` is stale enough to be worth a write."""
    return key.last_used_at is None or now - key.last_used_at >= _LAST_USED_RESOLUTION


async def touch(session: AsyncSession, key_id: int, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))


async def revoke_api_key(
    session: AsyncSession, key_id: str, now: datetime, actor: Actor = audit.SYSTEM
) -> None:
    key = await session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if key is None:
        raise DomainError(CoreError.NOT_FOUND, f"No API key {key_id!r}", "key")
    if key.revoked_at is None:
        key.revoked_at = now
        await _audit(session, actor, "apiKey.revoked", key, now)
    await session.flush()


async def _audit(
    session: AsyncSession, actor: Actor, action: str, key: ApiKey, now: datetime
) -> None:
    summary = {"keyId": key.key_id, "name": key.name, "scopes": list(key.scopes)}
    record = audit.AuditRecord(actor, action, targets=[f"ApiKey:{key.id}"], summary=summary)
    await audit.record_in(session, record, now)


class VerifiedKeys:
    """API keys verified in the last few seconds, so a till's requests do not each read the
    key: a revoked key stops working within `ttl` in every process. Keyed by the secret's
    hash, so no plaintext key is held."""

    MAX = 1000

    def __init__(self, ttl: timedelta) -> None:
        self.ttl = ttl.total_seconds()
        self._known: dict[str, tuple[Integration, float]] = {}

    def get(self, token: str) -> Integration | None:
        found = self._known.get(hash_secret(token))
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def keep(self, token: str, integration: Integration) -> None:
        if self.ttl <= 0:
            return
        if len(self._known) >= self.MAX:
            self._known.clear()
        self._known[hash_secret(token)] = (integration, time.monotonic() + self.ttl)
