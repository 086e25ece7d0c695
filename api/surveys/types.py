"""GraphQL types of surveys, as the member app's and the back office's contracts name them.

`Survey` is a Relay node: for a member, with their state for it (`state`); for the back
office, with its results. `SurveyResponse` is one member's run through a survey: where they
are (`currentQuestion`) and how far (`progress`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.errors import bad_input
from api.core.ids import row_id
from api.core.permissions import require_scope
from api.surveys.inputs import SurveyStatus
from loyalty.auth.service import MemberPrincipal

if TYPE_CHECKING:
    from loyalty.programme.surveys_spec import QuestionSpec
    from loyalty.surveys.flow import ResponseView
    from loyalty.surveys.models import Survey as SurveyRow
    from loyalty.surveys.models import SurveyChange as SurveyChangeRow
    from loyalty.surveys.results import Nps, QuestionResult
    from loyalty.surveys.results import SurveyResults as Results


@strawberry.enum(description="The signed-in member's state for a survey.")
class SurveyState(Enum):
    AVAILABLE = "available"
    IN_PROGRESS = "in_progress"
    NOT_AVAILABLE = "not_available"


@strawberry.enum
class SurveyQuestionKind(Enum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    RATING = "rating"
    NPS = "nps"
    TEXT = "text"
    DATE = "date"


@strawberry.enum
class SurveyResponseState(Enum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    EXPIRED = "expired"


@strawberry.type
class SurveyChoice:
    id: strawberry.ID
    label: str


@strawberry.type(description="The numbers a rating or NPS question takes, and their labels.")
class SurveyScale:
    min: int
    max: int
    min_label: str | None
    max_label: str | None


@strawberry.type
class SurveyQuestion:
    id: strawberry.ID = strawberry.field(description="Send it back as `questionId`.")
    prompt: str
    kind: SurveyQuestionKind
    required: bool
    choices: list[SurveyChoice]
    scale: SurveyScale | None
    max_length: int | None = strawberry.field(description="For TEXT: at most this many.")
    min_picks: int | None = strawberry.field(description="For MULTIPLE_CHOICE.")
    max_picks: int | None = strawberry.field(description="For MULTIPLE_CHOICE.")

    @classmethod
    def of(cls, spec: QuestionSpec) -> SurveyQuestion:
        scale = None
        if spec.kind in ("rating", "nps"):
            low, high = spec.range
            given = spec.scale
            scale = SurveyScale(
                min=low,
                max=high,
                min_label=given.min_label if given else None,
                max_label=given.max_label if given else None,
            )
        picks = spec.picks if spec.kind == "multiple_choice" else (None, None)
        return cls(
            id=strawberry.ID(spec.key),
            prompt=spec.prompt,
            kind=SurveyQuestionKind(spec.kind),
            required=spec.required,
            choices=[SurveyChoice(id=strawberry.ID(c.key), label=c.label) for c in spec.choices],
            scale=scale,
            max_length=spec.max_length if spec.kind == "text" else None,
            min_picks=picks[0],
            max_picks=picks[1],
        )


@strawberry.type
class SurveyProgress:
    answered: int
    total: int = strawberry.field(description="Answered, plus the questions still ahead.")


@strawberry.type
class SurveyResponse(relay.Node):
    id: relay.NodeID[int]
    state: SurveyResponseState
    progress: SurveyProgress
    current_question: SurveyQuestion | None = strawberry.field(
        description="The question to answer now; null once the survey is done."
    )
    points_awarded: int = strawberry.field(description="Incentive points it earned (once).")
    started_at: datetime
    expires_at: datetime | None = strawberry.field(description="Unless finished before.")

    @classmethod
    def of_view(cls, view: ResponseView) -> SurveyResponse:
        row = view.response
        answered, total = view.progress
        current = view.current
        return cls(
            id=row.id,
            state=SurveyResponseState(row.state),
            progress=SurveyProgress(answered=answered, total=total),
            current_question=SurveyQuestion.of(current) if current is not None else None,
            points_awarded=row.points_awarded,
            started_at=row.started_at,
            expires_at=row.expires_at if row.state == "in_progress" else None,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[SurveyResponse | None]:
        principal = info.context.principal
        if not isinstance(principal, MemberPrincipal):
            return [None for _ in node_ids]
        service = info.context.services.surveys
        views = [await service.response(principal.member_id, row_id(i)) for i in node_ids]
        return [cls.of_view(v) if v is not None else None for v in views]


@strawberry.type
class AnswerCount:
    value: str = strawberry.field(description="A choice id, a score or a date.")
    count: int


@strawberry.type
class SurveyQuestionResults:
    question_id: strawberry.ID
    answered: int
    drop_off: int = strawberry.field(description="Responses left unfinished at this question.")
    distribution: list[AnswerCount]

    @classmethod
    def of(cls, result: QuestionResult) -> SurveyQuestionResults:
        return cls(
            question_id=strawberry.ID(result.question),
            answered=result.answered,
            drop_off=result.drop_off,
            distribution=[AnswerCount(value=b.value, count=b.count) for b in result.distribution],
        )


@strawberry.type(description="Net Promoter Score (-100 to 100) with its 95% interval.")
class NpsResult:
    score: float
    confidence_low: float
    confidence_high: float
    promoters: int
    passives: int
    detractors: int

    @classmethod
    def of(cls, nps: Nps) -> NpsResult:
        return cls(
            score=nps.score,
            confidence_low=nps.low,
            confidence_high=nps.high,
            promoters=nps.promoters,
            passives=nps.passives,
            detractors=nps.detractors,
        )


@strawberry.type
class SurveyResults:
    started: int
    completed: int
    nps: NpsResult | None = strawberry.field(description="Null without an NPS question.")
    questions: list[SurveyQuestionResults]

    @classmethod
    def of(cls, results: Results) -> SurveyResults:
        return cls(
            started=results.started,
            completed=results.completed,
            nps=NpsResult.of(results.nps) if results.nps is not None else None,
            questions=[SurveyQuestionResults.of(q) for q in results.questions],
        )


@strawberry.enum
class SurveyChangeKind(Enum):
    CREATED = "created"
    CHANGED = "changed"
    STATE = "state"


@strawberry.type(description="One change to a survey, with who made it.")
class SurveyChange:
    kind: SurveyChangeKind
    version: int = strawberry.field(description="The survey's version after the change.")
    state: SurveyStatus = strawberry.field(description="The survey's state after the change.")
    actor: str = strawberry.field(
        description="`programme` (the programme file), or the name of the API key."
    )
    changed_at: datetime

    @classmethod
    def of_row(cls, row: SurveyChangeRow) -> SurveyChange:
        return cls(
            kind=SurveyChangeKind(row.kind),
            version=row.version,
            state=SurveyStatus(row.state),
            actor=row.actor,
            changed_at=row.changed_at,
        )


@strawberry.type
class Survey(relay.Node):
    id: relay.NodeID[int]
    key: str
    title: str
    description: str | None
    incentive_points: int
    state: SurveyState = strawberry.field(
        description="The signed-in member's state for it (NOT_AVAILABLE for API keys)."
    )
    status: SurveyStatus
    version: int = strawberry.field(
        description="A new version each time the definition of a survey that was asked changes."
    )
    source: str = strawberry.field(description="programme (the programme file) or admin.")
    stored: strawberry.Private[dict[str, Any]]

    @strawberry.field(
        description="Back office (admin scope): the survey as the programme file's `surveys:` "
        "section writes it (questions, logic, targeting)."
    )
    def definition(self, info: Info[Context, None]) -> JSON:
        require_scope(info, "admin")
        return JSON(self.stored)

    @strawberry.field(description="Back office (admin scope): every change, oldest first.")
    async def changes(self, info: Info[Context, None]) -> list[SurveyChange]:
        require_scope(info, "admin")
        rows = await info.context.services.survey_admin.changes(self.id)
        return [SurveyChange.of_row(row) for row in rows]

    @strawberry.field(
        description="Back office (admin scope): responses started in the period; with "
        "`segmentId`, only those of members who are in that segment now."
    )
    async def results(
        self,
        info: Info[Context, None],
        segment_id: strawberry.ID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> SurveyResults:
        require_scope(info, "admin")
        segment = None
        if segment_id is not None:
            segment = ids.decode(segment_id, "Segment", "segmentId")
            [known] = await info.context.services.reads.segments.by_ids([segment])
            if known is None:
                raise bad_input("`segmentId`: no such segment")
        found = await info.context.services.surveys.results(self.id, since, until, segment)
        if found is None:
            raise bad_input("`id`: no such survey")
        return SurveyResults.of(found)

    @classmethod
    def of_row(cls, row: SurveyRow, state: str) -> Survey:
        return cls(
            id=row.id,
            key=row.key,
            title=row.title,
            description=row.description or None,
            incentive_points=row.incentive_points,
            state=SurveyState(state),
            status=SurveyStatus(row.state),
            version=row.version,
            source=row.source,
            stored=row.definition,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Survey | None]:
        from api.surveys.queries import survey_node

        return [await survey_node(info, row_id(i)) for i in node_ids]
