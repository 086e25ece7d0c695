"""Survey queries: `Member.surveys` and `Member.pendingSurvey` (the signed-in member's own),
and a survey by its node id (members see what is not a draft; the back office everything)."""

from __future__ import annotations

from strawberry.types import Info

from api.core.context import Context
from api.core.errors import forbidden
from api.core.permissions import require_member
from api.surveys.types import Survey
from loyalty.auth.apikeys import Integration
from loyalty.auth.service import MemberPrincipal


def _own(info: Info[Context, None], member_id: int) -> None:
    """Only the member may see which surveys they are asked (a till may not)."""
    if require_member(info).member_id != member_id:
        raise forbidden("Only the member can see their surveys")


async def member_surveys(info: Info[Context, None], member_id: int) -> list[Survey]:
    _own(info, member_id)
    found = await info.context.services.surveys.surveys(member_id)
    return [Survey.of_row(m.survey, m.state) for m in found]


async def pending_survey(info: Info[Context, None], member_id: int) -> Survey | None:
    _own(info, member_id)
    found = await info.context.services.surveys.pending(member_id)
    return Survey.of_row(found.survey, found.state) if found is not None else None


async def survey_node(info: Info[Context, None], survey_id: int) -> Survey | None:
    principal = info.context.principal
    service = info.context.services.surveys
    if isinstance(principal, Integration) and principal.allows("admin"):
        row = await service.survey(survey_id)
        return Survey.of_row(row, "not_available") if row is not None else None
    if not isinstance(principal, MemberPrincipal):
        return None
    for mine in await service.surveys(principal.member_id):
        if mine.survey.id == survey_id:
            return Survey.of_row(mine.survey, mine.state)
    row = await service.survey(survey_id)
    if row is None or row.state == "draft":
        return None
    return Survey.of_row(row, "not_available")
