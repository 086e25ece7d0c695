"""What tiers holds about a member: their tier and floor (kept on erasure)."""

from __future__ import annotations

from loyalty.core.personal_data import Holding, PersonalDataRegistry, keep, rows_of
from loyalty.tiers.models import MemberTier


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding("tiers", "tier", ("member_tiers",), rows_of(MemberTier), keep, erasure="kept")
    )
