"""The request's DataLoaders: one batch read per kind of thing, however many members a query
lists. Each area keeps its own loaders (`api/<area>/loaders.py`); this composes them.

`cache=False` for websocket connections, whose context outlives any one operation: there a
loader only batches, it must not serve yesterday's balance."""

from __future__ import annotations

from api.campaigns.loaders import CampaignLoaders
from api.core.services import Reads
from api.members.loaders import MemberLoaders
from api.notifications.loaders import NotificationLoaders
from api.points.loaders import PointsLoaders
from api.referrals.loaders import ReferralLoaders
from api.rewards.loaders import RewardLoaders
from api.segments.loaders import SegmentLoaders


class Loaders:
    def __init__(self, reads: Reads, *, cache: bool = True) -> None:
        self.members = MemberLoaders(reads.members, cache=cache)
        self.points = PointsLoaders(reads.points, reads.tiers, cache=cache)
        self.rewards = RewardLoaders(reads.rewards, cache=cache)
        self.notifications = NotificationLoaders(reads.messaging, cache=cache)
        self.segments = SegmentLoaders(reads.segments, cache=cache)
        self.referrals = ReferralLoaders(reads.referrals, cache=cache)
        self.campaigns = CampaignLoaders(reads.campaigns, cache=cache)
