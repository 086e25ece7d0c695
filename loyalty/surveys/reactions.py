"""What the surveys area does when other areas' events happen: a purchase or an event makes
the surveys that follow it due for the member (after their delay, for their window), with
the hidden values the trigger passes on (only those the survey lists)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core import probes
from loyalty.core.events import ActivityRecorded, PurchaseRecorded
from loyalty.core.reactions import Reactions
from loyalty.programme.surveys_spec import SurveySpec
from loyalty.surveys.catalogue import LIVE, spec_of
from loyalty.surveys.models import Survey, SurveyTrigger

# Whether any survey is live, asked where a purchase locks the account (`core.probes`).
ANY_LIVE = "surveys.any_live"


async def _following(
    s: AsyncSession, after: str, event: str | None, member_id: int
) -> list[tuple[int, SurveySpec]]:
    """The live surveys asked after a purchase (or after the named event)."""
    if probes.answer(s, ANY_LIVE, member_id) is False:
        return []
    found = []
    for survey in await s.scalars(select(Survey).where(Survey.state == LIVE)):
        spec = spec_of(survey.definition)
        if spec.targeting.after == after and (event is None or spec.targeting.event == event):
            found.append((survey.id, spec))
    return found


def _trigger(
    member_id: int,
    survey_id: int,
    spec: SurveySpec,
    source: str,
    values: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
) -> SurveyTrigger:
    due = occurred_at + timedelta(hours=spec.targeting.delay_hours)
    return SurveyTrigger(
        member_id=member_id,
        survey_id=survey_id,
        source=source[:200],
        hidden={name: value for name, value in values.items() if name in spec.hidden},
        due_at=due,
        expires_at=due + timedelta(hours=spec.targeting.within_hours),
        response_id=None,
        created_at=now,
    )


async def _after_purchase(s: AsyncSession, event: PurchaseRecorded, at: datetime) -> None:
    if event.member_id is None:
        return
    values = {
        "purchase": event.external_id,
        "store": event.store,
        "total": str(event.total),
        "points": event.points_earned,
    }
    for survey_id, spec in await _following(s, "purchase", None, event.member_id):
        source = f"purchase:{event.purchase_id}"
        s.add(_trigger(event.member_id, survey_id, spec, source, values, event.occurred_at, at))


async def _after_activity(s: AsyncSession, event: ActivityRecorded, at: datetime) -> None:
    if event.member_id is None:
        return
    values = {"event": event.activity, "external_id": event.external_id}
    for survey_id, spec in await _following(s, "event", event.activity, event.member_id):
        source = f"event:{event.activity}:{event.external_id}"
        s.add(_trigger(event.member_id, survey_id, spec, source, values, event.occurred_at, at))


def register(reactions: Reactions) -> None:
    probes.register(ANY_LIVE, lambda _member: exists().where(Survey.state == LIVE))
    reactions.in_transaction(PurchaseRecorded, _after_purchase)
    reactions.in_transaction(ActivityRecorded, _after_activity)
