"""What admins read about a survey: how many started and completed, NPS with its 95%
confidence interval, each question's answers, distribution and drop-off, and the free-text
answers (for a CSV export).

NPS is 100·(P - D)/n for P promoters (9-10) and D detractors (0-6) among n answers. Its
standard error follows from the three-way (multinomial) split of the answers:
SE = 100·√(((P + D)/n - ((P - D)/n)²) / n); the interval is NPS ± 1.96·SE, within ±100.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.programme.surveys_spec import QuestionSpec
from loyalty.segments.membership import members_of
from loyalty.surveys.catalogue import spec_of
from loyalty.surveys.models import Survey, SurveyAnswer, SurveyResponse
from loyalty.surveys.targeting import COMPLETED

Z_95 = 1.96


@dataclass(frozen=True)
class Nps:
    score: float
    low: float
    high: float
    promoters: int
    passives: int
    detractors: int


@dataclass(frozen=True)
class Bucket:
    value: str
    count: int


@dataclass(frozen=True)
class QuestionResult:
    question: str
    answered: int
    # Responses that stopped at this question (left unfinished, or still in progress).
    drop_off: int
    distribution: list[Bucket]


@dataclass(frozen=True)
class SurveyResults:
    survey_id: int
    started: int
    completed: int
    nps: Nps | None
    questions: list[QuestionResult]


@dataclass(frozen=True)
class TextAnswer:
    response_id: int
    question: str
    answered_at: datetime
    text: str


def nps_of(scores: Sequence[int], z: float = Z_95) -> Nps | None:
    """NPS of 0-10 scores with its confidence interval; None without scores."""
    n = len(scores)
    if n == 0:
        return None
    promoters = sum(1 for x in scores if x >= 9)
    detractors = sum(1 for x in scores if x <= 6)
    p, d = promoters / n, detractors / n
    score = 100 * (p - d)
    error = 100 * math.sqrt(max(0.0, (p + d) - (p - d) ** 2) / n)
    return Nps(
        score=round(score, 1),
        low=round(max(-100.0, score - z * error), 1),
        high=round(min(100.0, score + z * error), 1),
        promoters=promoters,
        passives=n - promoters - detractors,
        detractors=detractors,
    )


def _buckets(question: QuestionSpec, values: list[object]) -> list[Bucket]:
    counts: Counter[str] = Counter()
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            counts[str(item)] += 1
    if question.choices:
        order = [c.key for c in question.choices]
    elif question.kind in ("rating", "nps"):
        low, high = question.range
        order = [str(v) for v in range(low, high + 1)]
    elif question.kind == "date":
        order = sorted(counts)
    else:
        return []  # free text: see the export
    return [Bucket(value, counts.get(value, 0)) for value in order]


async def survey_results(
    s: AsyncSession,
    survey_id: int,
    since: datetime | None,
    until: datetime | None,
    segment_id: int | None = None,
) -> SurveyResults | None:
    """Results of the responses started in [since, until); with `segment_id`, only those of
    members who are in that segment now (not when they answered)."""
    survey = await s.get(Survey, survey_id)
    if survey is None:
        return None
    query = select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)
    if segment_id is not None:
        query = query.where(SurveyResponse.member_id.in_(members_of(segment_id)))
    if since is not None:
        query = query.where(SurveyResponse.started_at >= since)
    if until is not None:
        query = query.where(SurveyResponse.started_at < until)
    responses = list(await s.scalars(query))
    ids = [r.id for r in responses]
    answers: dict[str, list[object]] = {}
    if ids:
        for row in await s.scalars(select(SurveyAnswer).where(SurveyAnswer.response_id.in_(ids))):
            answers.setdefault(row.question, []).append(row.value.get("value"))
    stopped = Counter(r.current_question for r in responses if r.state != COMPLETED)
    spec = spec_of(survey.definition)
    questions = [
        QuestionResult(
            q.key,
            len(answers.get(q.key, [])),
            stopped.get(q.key, 0),
            _buckets(q, answers.get(q.key, [])),
        )
        for q in spec.questions
    ]
    nps_question = next((q for q in spec.questions if q.kind == "nps"), None)
    scores = (
        [v for v in answers.get(nps_question.key, []) if isinstance(v, int)] if nps_question else []
    )
    return SurveyResults(
        survey_id=survey.id,
        started=len(responses),
        completed=sum(1 for r in responses if r.state == COMPLETED),
        nps=nps_of(scores) if nps_question else None,
        questions=questions,
    )


async def free_text(s: AsyncSession, survey_id: int) -> list[TextAnswer]:
    survey = await s.get(Survey, survey_id)
    if survey is None:
        return []
    texts = {q.key for q in spec_of(survey.definition).questions if q.kind == "text"}
    rows = await s.scalars(
        select(SurveyAnswer)
        .where(SurveyAnswer.survey_id == survey_id, SurveyAnswer.question.in_(texts))
        .order_by(SurveyAnswer.answered_at, SurveyAnswer.response_id)
    )
    return [
        TextAnswer(r.response_id, r.question, r.answered_at, str(r.value["value"])) for r in rows
    ]


def as_csv(survey_key: str, answers: Sequence[TextAnswer]) -> str:
    """The free-text answers as CSV, one row per answer. Cells that a spreadsheet would take
    for a formula are prefixed with a quote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["survey", "response", "question", "answered_at", "text"])
    for a in answers:
        text = "'" + a.text if a.text[:1] in ("=", "+", "-", "@", "\t", "\r") else a.text
        writer.writerow([survey_key, a.response_id, a.question, a.answered_at.isoformat(), text])
    return out.getvalue()
