"""What messaging holds about a member: devices with their push tokens, the inbox and the
deliveries made to them. All of it is deleted on erasure."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.personal_data import Holding, PersonalDataRegistry, delete_rows, rows_of
from loyalty.messaging.models import ContactLog, Device, InboxMessage, NotificationDelivery


async def _deliveries(session: AsyncSession, member_id: int) -> Any:
    # What was sent, when, on which channel; not the target (a token or a webhook address).
    return await rows_of(NotificationDelivery, skip=("member_id", "target", "lease_token"))(
        session, member_id
    )


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "messaging",
            "devices",
            ("devices",),
            rows_of(Device),
            delete_rows(Device),
            erasure="deleted, with their push tokens",
        )
    )
    registry.add(
        Holding(
            "messaging",
            "inbox",
            ("inbox_messages",),
            rows_of(InboxMessage),
            delete_rows(InboxMessage),
            erasure="deleted",
        )
    )
    registry.add(
        Holding(
            "messaging",
            "deliveries",
            ("deliveries",),
            _deliveries,
            delete_rows(NotificationDelivery),
            erasure="deleted",
        )
    )
    registry.add(
        Holding(
            "messaging",
            "contactLog",
            ("contact_log",),
            rows_of(ContactLog),
            delete_rows(ContactLog),
            erasure="deleted",
        )
    )
