"""DataLoaders of rewards: rewards and redemptions by id, and each member's catalogue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from loyalty.rewards.models import Redemption, Reward
    from loyalty.rewards.read import RewardReads
    from loyalty.rewards.service import RewardView


class RewardLoaders:
    def __init__(self, reads: RewardReads, *, cache: bool = True) -> None:
        self.reward: DataLoader[int, Reward | None] = DataLoader(load_fn=reads.rewards, cache=cache)
        self.redemption: DataLoader[int, Redemption | None] = DataLoader(
            load_fn=reads.redemptions, cache=cache
        )
        # The rewards catalogue as one member sees it, by reward id.
        self.catalogue: DataLoader[int, dict[int, RewardView]] = DataLoader(
            load_fn=reads.catalogues, cache=cache
        )
