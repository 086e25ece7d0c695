"""Moments in a member's life that earning rules may reward (sign-up, a complete profile)."""

from __future__ import annotations

import logging

from loyalty.errors import DomainError
from loyalty.points import EventInput, MemberRef, PointsService
from loyalty.storage.models import Member

log = logging.getLogger("trouw.lifecycle")
PROFILE_FIELDS = ("first_name", "last_name", "birth_date", "phone")


async def record_moment(points: PointsService, member_id: int, name: str) -> int:
    """Record the event once per member (its id makes retries harmless); returns points."""
    try:
        result = await points.record_event(
            EventInput(MemberRef(member_id=member_id), f"{name}:{member_id}", name), actor="app"
        )
    except DomainError as exc:
        # The change that caused the moment has happened; a missing bonus is not worth undoing it.
        log.warning("could not record %s for member %s: %s", name, member_id, exc.message)
        return 0
    return result.points_awarded


def profile_complete(member: Member) -> bool:
    return all(getattr(member, name) for name in PROFILE_FIELDS)
