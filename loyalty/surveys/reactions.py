"""What the surveys area does when other areas' events happen: a purchase or an event makes
the surveys that follow it due for the member (after their delay, for their window), with
the hidden values the trigger passes on (only those the survey lists)."""

from __future__ import annotations

from collections.abc import Sequence
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
    return _asked_after(await _live(s), after, event)


async def _live(s: AsyncSession) -> list[tuple[int, SurveySpec]]:
    surveys = await s.scalars(select(Survey).where(Survey.state == LIVE))
    return [(survey.id, spec_of(survey.definition)) for survey in surveys]


def _asked_after(
    live: list[tuple[int, SurveySpec]], after: str, event: str | None
) -> list[tuple[int, SurveySpec]]:
    return [
        (survey_id, spec)
        for survey_id, spec in live
        if spec.targeting.after == after and (event is None or spec.targeting.event == event)
    ]


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


async def _after_activities(
    s: AsyncSession, run: Sequence[tuple[ActivityRecorded, datetime]]
) -> None:
    """The live surveys are read once for the whole run of activities."""
    live: list[tuple[int, SurveySpec]] | None = None
    for event, at in run:
        if event.member_id is None or probes.answer(s, ANY_LIVE, event.member_id) is False:
            continue
        live = await _live(s) if live is None else live
        values = {"event": event.activity, "external_id": event.external_id}
        for survey_id, spec in _asked_after(live, "event", event.activity):
            source = f"event:{event.activity}:{event.external_id}"
            s.add(_trigger(event.member_id, survey_id, spec, source, values, event.occurred_at, at))


def register(reactions: Reactions) -> None:
    probes.register(ANY_LIVE, lambda _member: exists().where(Survey.state == LIVE))
    reactions.in_transaction(PurchaseRecorded, _after_purchase)
    reactions.in_transaction_many(ActivityRecorded, _after_activities)
