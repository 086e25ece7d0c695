"""What privacy itself and the shared tables of core hold about a member: the events about
them (the outbox, which is also the history of their consents), their data exports and
erasure requests.

Event payloads carry no personal data (ids, amounts, dates, keys of the programme; a test
keeps it so), so the outbox stays on erasure; exports are sealed with the member's key and
deleted; erasure requests stay, with only keyed fingerprints of what was erased.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.models import OutboxEvent
from loyalty.core.personal_data import (
    Holding,
    PersonalDataRegistry,
    delete_rows,
    keep,
    rows_as_dicts,
)
from loyalty.privacy.models import DataExport, MemberErasure


async def _events(session: AsyncSession, member_id: int) -> Any:
    rows = await session.scalars(
        select(OutboxEvent).where(OutboxEvent.member_id == member_id).order_by(OutboxEvent.id)
    )
    return rows_as_dicts(list(rows), ("member_id", "published_at"))


async def _exports(session: AsyncSession, member_id: int) -> Any:
    rows = await session.scalars(
        select(DataExport).where(DataExport.member_id == member_id).order_by(DataExport.id)
    )
    return rows_as_dicts(list(rows), ("member_id", "token_hash", "sealed"))


async def _erasures(session: AsyncSession, member_id: int) -> Any:
    rows = await session.scalars(
        select(MemberErasure).where(MemberErasure.member_id == member_id).order_by(MemberErasure.id)
    )
    return rows_as_dicts(list(rows), ("member_id", "fingerprints"))


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "core",
            "events",
            ("outbox_events",),
            _events,
            keep,
            erasure="kept: payloads hold ids, amounts and dates only",
        )
    )
    registry.add(
        Holding(
            "privacy",
            "dataExports",
            ("data_exports",),
            _exports,
            delete_rows(DataExport),
            erasure="deleted (and sealed with the member's key before that)",
        )
    )
    registry.add(
        Holding(
            "privacy",
            "erasureRequests",
            ("member_erasures",),
            _erasures,
            keep,
            erasure="kept, holding keyed fingerprints of the erased values only",
        )
    )
