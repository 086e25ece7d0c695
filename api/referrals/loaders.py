"""DataLoaders of referrals: referrals by id and members' counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from loyalty.referrals.models import Referral
    from loyalty.referrals.read import Counts, ReferralReads


class ReferralLoaders:
    def __init__(self, reads: ReferralReads, *, cache: bool = True) -> None:
        self.referral: DataLoader[int, Referral | None] = DataLoader(
            load_fn=reads.by_ids, cache=cache
        )

        async def counts(ids: Sequence[int]) -> list[Counts]:
            return [await reads.counts(i) for i in ids]

        # A member's own counts: one member per request in practice.
        self.counts: DataLoader[int, Counts] = DataLoader(load_fn=counts, cache=cache)
