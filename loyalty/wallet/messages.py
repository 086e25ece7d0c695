"""Campaign messages on the `pass` channel: the member's latest is kept for their pass (its
back, Google's object), replaced only by a newer one (by event id), so a reaction that runs
late or twice never brings an older message back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.storage.database import insert_for
from loyalty.wallet.models import WalletPassMessage

CHANNEL = "pass"  # the campaign channel whose messages the pass shows


@dataclass(frozen=True)
class PassMessage:
    title: str
    body: str
    sent_at: datetime


async def keep_message(
    s: AsyncSession, member_id: int, event_id: int, message: PassMessage
) -> None:
    """The member's latest pass message is now `message` (event `event_id`), unless a newer
    one is kept already."""
    insert = insert_for(s)(WalletPassMessage).values(
        member_id=member_id,
        event_id=event_id,
        title=message.title,
        body=message.body,
        sent_at=message.sent_at,
    )
    await s.execute(
        insert.on_conflict_do_update(
            index_elements=[WalletPassMessage.member_id],
            set_={
                "event_id": insert.excluded.event_id,
                "title": insert.excluded.title,
                "body": insert.excluded.body,
                "sent_at": insert.excluded.sent_at,
            },
            where=WalletPassMessage.event_id < insert.excluded.event_id,
        )
    )


async def latest_message(s: AsyncSession, member_id: int) -> PassMessage | None:
    row = (
        await s.execute(
            select(
                WalletPassMessage.title, WalletPassMessage.body, WalletPassMessage.sent_at
            ).where(WalletPassMessage.member_id == member_id)
        )
    ).first()
    return PassMessage(*row) if row is not None else None
