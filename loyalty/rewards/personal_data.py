"""What rewards holds about a member: their redemptions (kept on erasure, for the books)."""

from __future__ import annotations

from loyalty.core.personal_data import Holding, PersonalDataRegistry, keep, rows_of
from loyalty.rewards.models import Redemption


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "rewards",
            "redemptions",
            ("redemptions",),
            rows_of(Redemption),
            keep,
            erasure="kept: points, codes and dates",
        )
    )
