"""A member's data export: every registered holding's part, as one JSON document, kept sealed
with the member's data key and reachable through a download token for a limited time."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError, NotFound
from loyalty.core.events import DataExported
from loyalty.core.outbox import emit
from loyalty.core.personal import seal, unseal
from loyalty.core.personal_data import PersonalDataRegistry
from loyalty.members.models import Member
from loyalty.privacy.errors import PrivacyError
from loyalty.privacy.models import DataExport

FORMAT = "trouw.member-data"
_CONTEXT = b"data-export"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def collect(
    session: AsyncSession, registry: PersonalDataRegistry, member_id: int, now: datetime
) -> dict[str, Any]:
    """Everything the areas hold about the member, section by section."""
    sections: dict[str, Any] = {}
    for holding in registry.holdings:
        sections[holding.section] = await holding.export(session, member_id)
    return {
        "format": FORMAT,
        "version": 1,
        "memberId": member_id,
        "exportedAt": now.isoformat(),
        "sections": sections,
    }


async def make_export(
    session: AsyncSession,
    registry: PersonalDataRegistry,
    member_id: int,
    *,
    requested_by: str,
    now: datetime,
    ttl: timedelta,
) -> tuple[DataExport, str]:
    """Build and store the export; returns it with its download token (shown once)."""
    member = await session.get(Member, member_id)
    if member is None:
        raise NotFound("Member")
    if member.data_key is None:
        raise DomainError(PrivacyError.MEMBER_ERASED, "This member's data has been erased")
    document = await collect(session, registry, member_id, now)
    token = secrets.token_urlsafe(32)
    export = DataExport(
        member_id=member_id,
        requested_by=requested_by[:120],
        token_hash=token_hash(token),
        sealed=seal(member._data_key(), {"document": document}, _CONTEXT),
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(export)
    await session.flush()
    emit(
        session,
        DataExported(member_id=member_id, export_id=export.id, requested_by=export.requested_by),
        now,
    )
    return export, token


async def open_export(session: AsyncSession, token: str, now: datetime) -> dict[str, Any] | None:
    """The export's document for a download token, or None (unknown, expired or erased)."""
    export = await session.scalar(
        select(DataExport).where(DataExport.token_hash == token_hash(token))
    )
    if export is None or export.sealed is None or export.expires_at <= now:
        return None
    member = await session.get(Member, export.member_id)
    if member is None or member.data_key is None:
        return None
    document: dict[str, Any] = unseal(member._data_key(), export.sealed, _CONTEXT)["document"]
    return document


def export_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode()
