"""What the campaigns area does when other areas' events happen: the member enters the
campaigns the event starts, and the journeys waiting for it go on (after commit, once per
event: the reaction's receipt commits with every step it ran)."""

from __future__ import annotations

from loyalty.campaigns.runner import CAMPAIGN_EVENTS, on_event
from loyalty.core.reactions import Reactions


def register(reactions: Reactions) -> None:
    reactions.on_commit("campaigns.journeys", CAMPAIGN_EVENTS, on_event)
