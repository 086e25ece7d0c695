"""Who hears about what, and when: events per channel, consent, quiet hours, contact pressure.

- Transactional events tell a member about their own account: `BalanceChanged` (points
  earned, released, expired, returned, adjusted) and `RewardRedeemed`. They respect consent
  only: a push needs the member's `push` consent.
- Marketing events are everything else that reaches a member unasked: `PointsExpiring`
  ("use them or lose them" is a nudge), `TierChanged` (a celebration or a downgrade notice),
  and campaigns' messages (`CampaignMessage`, unless the campaign marks it transactional).
  A campaign's message has passed the one contact budget when the campaign sent it
  (`loyalty.messaging.budget`, under the member's contact lock); its push counts as that
  same contact here, so it is not counted twice. A marketing push needs the `push` consent, waits
  for the end of quiet hours, and is dropped ("contact_pressure") once the member has had
  the cap of marketing contacts in the window (pushes and surveys asked count alike).
- The in-app inbox keeps `PointsExpiring` and `TierChanged` messages when the member gave
  the `in_app` consent. The inbox is read when the member opens it, so quiet hours and the
  contact-pressure cap (which count interruptions) do not apply to it.
- Webhooks go to the brand's own systems for every subscribed event; member consent does not
  apply (the brand's systems already hold the member's data), member status neither.

Members have no time zone of their own: quiet hours are read in the programme's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.events import (
    BalanceChanged,
    CampaignMessage,
    Event,
    PointsExpiring,
    RewardRedeemed,
    TierChanged,
)
from loyalty.members.models import MemberConsent
from loyalty.messaging.contacts import Contact, contacts_since
from notifications.config import QuietHours

Kind = Literal["transactional", "marketing"]

TRANSACTIONAL: frozenset[type[Event]] = frozenset({BalanceChanged, RewardRedeemed})
PUSHED: frozenset[type[Event]] = frozenset(
    {BalanceChanged, RewardRedeemed, PointsExpiring, TierChanged}
)
IN_INBOX: frozenset[type[Event]] = frozenset({PointsExpiring, TierChanged})
# Balance changes the member made themselves in the app, told by another push or none.
QUIET_BALANCE_KINDS = frozenset({"spend"})

PUSH_CONSENT = "push"
INBOX_CONSENT = "in_app"


def kind_of(event: Event) -> Kind:
    if isinstance(event, CampaignMessage):
        return "transactional" if event.transactional else "marketing"
    return "transactional" if type(event) in TRANSACTIONAL else "marketing"


def wants_push(event: Event) -> bool:
    if isinstance(event, CampaignMessage):
        # The campaign's budget said yes already; the worker checks consent again at sending.
        return event.channel == "push"
    if type(event) not in PUSHED:
        return False
    if isinstance(event, BalanceChanged):
        return event.kind not in QUIET_BALANCE_KINDS and bool(event.points)
    return True


def wants_inbox(event: Event) -> bool:
    if isinstance(event, CampaignMessage):
        return event.channel == "inbox"
    return type(event) in IN_INBOX


def quiet_until(quiet: QuietHours | None, at: datetime, zone: ZoneInfo) -> datetime | None:
    """When the quiet period that `at` falls in ends (UTC), or None if `at` is not quiet."""
    if quiet is None or quiet.start == quiet.end:
        return None
    local = at.astimezone(zone)
    now = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= now < quiet.end
    else:  # wraps midnight, e.g. 21:00-08:00
        inside = now >= quiet.start or now < quiet.end
    if not inside:
        return None
    day = local.date()
    end = datetime.combine(day, quiet.end, tzinfo=zone)
    if end <= local:
        end = datetime.combine(day + timedelta(days=1), quiet.end, tzinfo=zone)
    # Through UTC: a wall time that a DST change skipped or repeated resolves to one instant.
    return end.astimezone(UTC)


async def marketing_contacts(
    s: AsyncSession, member_ids: Sequence[int], since: datetime
) -> dict[int, set[Contact]]:
    """The marketing contacts each member had since `since`: pushes and surveys alike, counted
    by the one function every sender shares (`loyalty.messaging.contacts`)."""
    return await contacts_since(s, member_ids, since)


async def granted(
    s: AsyncSession, member_ids: Sequence[int], channels: Sequence[str]
) -> set[tuple[int, str]]:
    """(member, channel) pairs with consent given."""
    if not member_ids:
        return set()
    rows = await s.execute(
        select(MemberConsent.member_id, MemberConsent.channel).where(
            MemberConsent.member_id.in_(member_ids),
            MemberConsent.channel.in_(channels),
            MemberConsent.granted.is_(True),
        )
    )
    return {(m, c) for m, c in rows}
