"""When what a pass shows changes (balance, tier, name, expiring points, offers, a campaign's
message on the `pass` channel), its update tag moves to the event's id and a push is pending;
the pass pusher (`wallet.apple.push`) then tells the registered devices, once for a burst of
changes, and the Google Wallet object is patched."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import (
    BalanceChanged,
    CampaignMessage,
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
from loyalty.wallet.messages import CHANNEL, PassMessage, keep_message
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


async def _pass_message(s: AsyncSession, recorded: Recorded[CampaignMessage]) -> None:
    """A campaign's message on the pass channel (it passed the contact budget when sent): kept
    for the pass, which then changes like any other."""
    event = recorded.event
    if event.channel != CHANNEL or event.member_id is None:
        return
    message = PassMessage(event.title, event.body, recorded.occurred_at)
    await keep_message(s, event.member_id, recorded.id, message)
    await _pass_changed(s, recorded)


def register(reactions: Reactions) -> None:
    reactions.on_commit("wallet.pass_changed", SHOWN_ON_THE_PASS, _pass_changed)
    reactions.on_commit("wallet.pass_message", (CampaignMessage,), _pass_message)
