"""When what a pass shows changes (balance, tier, name, expiring points, offers), its update
tag moves to the event's id and a push is pending; the pass pusher (`wallet.apple.push`) then
tells the registered devices, once for a burst of changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import (
    BalanceChanged,
    Event,
    OfferActivated,
    OfferChanged,
    OfferExpired,
    OfferGranted,
    OfferRedeemed,
    PointsExpiring,
    ProfileUpdated,
    Recorded,
    TierChanged,
)
from loyalty.core.reactions import Reactions
from loyalty.wallet.service import mark_changed

SHOWN_ON_THE_PASS: tuple[type[Event], ...] = (
    BalanceChanged,
    TierChanged,
    ProfileUpdated,
    PointsExpiring,
    OfferGranted,
    OfferActivated,
    OfferRedeemed,
    OfferExpired,
    OfferChanged,
)


async def _pass_changed(s: AsyncSession, recorded: Recorded[Any]) -> None:
    member_id = recorded.event.member_id
    if member_id is not None:
        await mark_changed(s, member_id, recorded.id, recorded.occurred_at)


def register(reactions: Reactions) -> None:
    reactions.on_commit("wallet.pass_changed", SHOWN_ON_THE_PASS, _pass_changed)
