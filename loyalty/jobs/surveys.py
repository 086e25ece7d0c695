"""Expire unfinished survey responses: a response left in progress past its time is
expired, so the member may be asked again when the survey's rules allow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from loyalty.jobs.batch import BATCH
from loyalty.storage.database import Database
from loyalty.surveys.models import SurveyResponse
from loyalty.surveys.targeting import EXPIRED, IN_PROGRESS


async def expire_responses(db: Database, now: datetime) -> int:
    """Expire up to BATCH overdue responses; returns how many."""
    async with db.unit_of_work() as uow:
        s = uow.session
        ids = list(
            await s.scalars(
                select(SurveyResponse.id)
                .where(SurveyResponse.state == IN_PROGRESS, SurveyResponse.expires_at <= now)
                .order_by(SurveyResponse.id)
                .limit(BATCH)
            )
        )
        if ids:
            # The state is checked again: an answer may have completed one meanwhile.
            await s.execute(
                update(SurveyResponse)
                .where(SurveyResponse.id.in_(ids), SurveyResponse.state == IN_PROGRESS)
                .values(state=EXPIRED, open_key=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        await uow.commit()
    return len(ids)
