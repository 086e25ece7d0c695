"""What offers do when other areas' events happen: grant or withdraw offers meant for a
segment when a member enters or leaves it (`granting`)."""

from __future__ import annotations

from loyalty.core.events import SegmentEntered, SegmentLeft
from loyalty.core.reactions import Reactions
from loyalty.offers.granting import segment_changed


def register(reactions: Reactions) -> None:
    reactions.on_commit("offers.segment-offers", (SegmentEntered, SegmentLeft), segment_changed)
