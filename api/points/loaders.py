"""DataLoaders of points: balances and tiers of members, ledger entries and purchases by id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from loyalty.points.balances import Balance
    from loyalty.points.models import LedgerEntry, Purchase
    from loyalty.points.read import PointsReads
    from loyalty.tiers.read import TierReads
    from loyalty.tiers.service import TierStatus


class PointsLoaders:
    def __init__(self, points: PointsReads, tiers: TierReads, *, cache: bool = True) -> None:
        self.balance: DataLoader[int, Balance] = DataLoader(load_fn=points.balances, cache=cache)
        self.tier: DataLoader[int, TierStatus | None] = DataLoader(
            load_fn=tiers.statuses, cache=cache
        )
        self.entry: DataLoader[int, LedgerEntry | None] = DataLoader(
            load_fn=points.entries, cache=cache
        )
        self.purchase: DataLoader[int, Purchase | None] = DataLoader(
            load_fn=points.purchases, cache=cache
        )
