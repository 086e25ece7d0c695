"""Who hears about what, and when: events per channel, consent, quiet hours, contact pressure.

- Transactional events tell a member about their own account: `BalanceChanged` (points
  earned, released, expired, returned, adjusted) and `RewardRedeemed`. They respect consent
  only: a push needs the member's `push` consent.
- Marketing events are everything else that reaches a member unasked: `PointsExpiring`
  ("use them or lose them" is a nudge), `TierChanged` (a celebration or a downgrade notice),
  and campaigns' messages (`CampaignMessage`, unless the campaign marks it transactional).
  A campaign's message has passed the one contact budget when the campaign sent it
  (`loyalty.messaging.budget`, under the member's contact lock); its push counts as that
  same contact here, so it is not counted twice. Any other marketing push needs the `push`
  consent, waits for the end of quiet hours, and is dropped ("daily_cap", "weekly_cap")
  once the member has had the day's or the week's marketing contacts (campaign messages,
  pushes and surveys asked count alike), all in the member's time zone; the worker logs it
  in the contact log when it claims it (under the member's contact lock), or why not.
- The in-app inbox keeps `PointsExpiring` and `TierChanged` messages when the member gave
  the `in_app` consent. The inbox is read when the member opens it, so quiet hours and the
  contact-pressure cap (which count interruptions) do not apply to it.
- Webhooks go to the brand's own systems for every subscribed event; member consent does not
  apply (the brand's systems already hold the member's data), member status neither.

Quiet hours and the day and week are the member's (`members.time_zone`), else the programme's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

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
