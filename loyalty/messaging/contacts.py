"""One contact budget per member, counted in one place: every marketing contact a member
had since a moment, whichever area made it, and when. The budget (`loyalty.messaging.budget`:
quiet hours, caps per local day and week) is checked against these by campaign messages,
the notification worker's marketing pushes and the surveys area before it asks a survey.

A contact is `("push", event id)` for a marketing push that reached the member (one event
pushed to two phones is one contact), `("survey", response id)` for a survey the member
was asked (a response started), or a marketing message a campaign sent (`contact_log`,
counted as the push of its event when it has one, so that its push is not counted twice).

Every sender takes the member's contact lock (`lock_contacts`), counts, and logs what it
sent or why not (`log_contact`) in one transaction: two workers cannot both take the last
place in a member's budget. The worker logs a marketing push when it claims it, so a push
on its way counts at once. The day and week are the member's own
(their time zone, else the programme's).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import BindParameter, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.messaging.models import ContactLog, NotificationDelivery
from loyalty.storage import direct
from loyalty.surveys.models import SurveyResponse

Contact = tuple[str, int]
PUSH, SURVEY, MESSAGE = "push", "survey", "message"


# Built once (the app's home screen asks on every request): `members` and `since` are bound.
_MEMBERS: BindParameter[int] = bindparam("members", expanding=True)
_SINCE: BindParameter[datetime] = bindparam("since")
_PUSHES = (
    select(
        NotificationDelivery.member_id,
        NotificationDelivery.event_id,
        func.min(NotificationDelivery.delivered_at),
    )
    .where(
        NotificationDelivery.member_id.in_(_MEMBERS),
        NotificationDelivery.channel == "push",
        NotificationDelivery.delivered_at >= _SINCE,
        NotificationDelivery.kind == "marketing",
        NotificationDelivery.status == "delivered",
    )
    .group_by(NotificationDelivery.member_id, NotificationDelivery.event_id)
)
_SURVEYS = select(SurveyResponse.member_id, SurveyResponse.id, SurveyResponse.started_at).where(
    SurveyResponse.member_id.in_(_MEMBERS), SurveyResponse.started_at >= _SINCE
)
_LOGGED = select(ContactLog.member_id, ContactLog.id, ContactLog.event_id, ContactLog.at).where(
    ContactLog.member_id.in_(_MEMBERS),
    ContactLog.at >= _SINCE,
    ContactLog.sent.is_(True),
    ContactLog.transactional.is_(False),
)


def push_contact(event_id: int) -> Contact:
    return (PUSH, event_id)


async def contacts_since(
    s: AsyncSession, member_ids: Sequence[int], since: datetime
) -> dict[int, set[Contact]]:
    """The marketing contacts each member had since `since`."""
    times = await contact_times(s, member_ids, since)
    return {member_id: set(found) for member_id, found in times.items()}


def _earliest(found: dict[Contact, datetime], contact: Contact, at: datetime) -> None:
    if contact not in found or at < found[contact]:
        found[contact] = at


async def contact_times(
    s: AsyncSession, member_ids: Sequence[int], since: datetime
) -> dict[int, dict[Contact, datetime]]:
    """The marketing contacts each member had since `since`, each with when it was made (a
    push: when it first reached a phone; a survey: when it was started)."""
    if not member_ids:
        return {}
    found: dict[int, dict[Contact, datetime]] = {m: {} for m in member_ids}
    given = {"members": list(member_ids), "since": since}
    pushes = await direct.rows(s, _PUSHES, given)
    for member_id, event_id, at in pushes:
        if member_id is not None and at is not None:
            _earliest(found[member_id], push_contact(event_id), at)
    surveys = await direct.rows(s, _SURVEYS, given)
    for member_id, response_id, at in surveys:
        _earliest(found[member_id], (SURVEY, response_id), at)
    logged = await direct.rows(s, _LOGGED, given)
    for member_id, log_id, carried_by, at in logged:
        contact = push_contact(carried_by) if carried_by is not None else (MESSAGE, log_id)
        _earliest(found[member_id], contact, at)
    return found
