"""One contact budget per member, counted in one place: every marketing contact a member
had in a window, whichever area made it. The notification worker checks it before a
marketing push; the surveys area before it asks a survey.

A contact is `("push", event id)` for a marketing push that reached the member (one event
pushed to two phones is one contact), `("survey", response id)` for a survey the member
was asked (a response started), or a marketing message a campaign sent (`contact_log`,
counted as the push of its event when it has one, so that its push is not counted twice).

Senders that decide at once (campaigns) take the member's contact lock (`lock_contacts`),
count, and log what they sent or why not (`log_contact`) in one transaction: two workers
cannot both take the last place in a member's budget. The day and week are the member's own
(their time zone, else the programme's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.messaging.models import ContactLog, NotificationDelivery
from loyalty.surveys.models import SurveyResponse

Contact = tuple[str, int]
PUSH, SURVEY, MESSAGE = "push", "survey", "message"


@dataclass(frozen=True)
class ContactBudget:
    """At most `limit` marketing contacts per member in any `window`."""

    limit: int = 3
    window: timedelta = timedelta(days=7)


def push_contact(event_id: int) -> Contact:
    return (PUSH, event_id)


async def contacts_since(
    s: AsyncSession, member_ids: Sequence[int], since: datetime
) -> dict[int, set[Contact]]:
    """The marketing contacts each member had since `since`."""
    if not member_ids:
        return {}
    found: dict[int, set[Contact]] = {m: set() for m in member_ids}
    pushes = await s.execute(
        select(NotificationDelivery.member_id, NotificationDelivery.event_id)
        .where(
            NotificationDelivery.member_id.in_(member_ids),
            NotificationDelivery.channel == "push",
            NotificationDelivery.delivered_at >= since,
            NotificationDelivery.kind == "marketing",
            NotificationDelivery.status == "delivered",
        )
        .group_by(NotificationDelivery.member_id, NotificationDelivery.event_id)
    )
    for member_id, event_id in pushes:
        if member_id is not None:
            found[member_id].add(push_contact(event_id))
    surveys = await s.execute(
        select(SurveyResponse.member_id, SurveyResponse.id).where(
            SurveyResponse.member_id.in_(member_ids), SurveyResponse.started_at >= since
        )
    )
    for member_id, response_id in surveys:
        found[member_id].add((SURVEY, response_id))
    logged = await s.execute(
        select(ContactLog.member_id, ContactLog.id, ContactLog.event_id).where(
            ContactLog.member_id.in_(member_ids),
            ContactLog.at >= since,
            ContactLog.sent.is_(True),
            ContactLog.transactional.is_(False),
        )
    )
    for member_id, log_id, carried_by in logged:
        contact = push_contact(carried_by) if carried_by is not None else (MESSAGE, log_id)
        found[member_id].add(contact)
    return found
