"""What segments holds about a member: their memberships with the reasons, and their purchase
rhythm. On erasure the memberships go (the reasons may quote profile data); the rhythm, made
of purchase figures only, stays."""

from __future__ import annotations

from loyalty.core.personal_data import Holding, PersonalDataRegistry, delete_rows, keep, rows_of
from loyalty.segments.models import MemberRhythm, SegmentMembership


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "segments",
            "segmentMemberships",
            ("segment_memberships",),
            rows_of(SegmentMembership),
            delete_rows(SegmentMembership),
            erasure="deleted",
        )
    )
    registry.add(
        Holding(
            "segments",
            "purchaseRhythm",
            ("member_rhythms",),
            rows_of(MemberRhythm),
            keep,
            erasure="kept: purchase counts, spend, scores",
        )
    )
