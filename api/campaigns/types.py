"""GraphQL types of campaigns, as the back office's contract names them: `Campaign` (a Relay
node, with its report), the dry run, and a member's journeys with their steps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.ids import row_id
from api.core.permissions import require_scope

if TYPE_CHECKING:
    from loyalty.campaigns.dryrun import DryRun
    from loyalty.campaigns.evaluation import Report
    from loyalty.campaigns.models import Campaign as CampaignRow
    from loyalty.campaigns.models import CampaignEnrolment as EnrolmentRow


@strawberry.type
class CampaignOutcome:
    name: str
    treated_value: float
    held_out_value: float
    uplift: float
    confidence_low: float = strawberry.field(description="The 95 % interval's low end.")
    confidence_high: float
    variance_reduced: float = strawberry.field(
        description="The share of the outcome's variance that CUPED removed (0 to 1)."
    )


@strawberry.type
class CampaignGuardrail:
    name: str = strawberry.field(description="opt_outs or points_liability_added.")
    treated_value: float
    held_out_value: float


@strawberry.type(description="Treated against held out; values are per member.")
class CampaignReport:
    treated: int
    held_out: int
    sample_ratio_alarm: bool = strawberry.field(
        description="The treated/held-out split is off its expected share (chi², p < 0.001)."
    )
    sample_ratio_p: float
    outcomes: list[CampaignOutcome]
    guardrails: list[CampaignGuardrail]

    @classmethod
    def of(cls, found: Report) -> CampaignReport:
        return cls(
            treated=found.treated,
            held_out=found.held_out,
            sample_ratio_alarm=found.sample_ratio_alarm,
            sample_ratio_p=found.sample_ratio_p,
            outcomes=[
                CampaignOutcome(
                    name=o.name,
                    treated_value=o.result.treated,
                    held_out_value=o.result.held_out,
                    uplift=o.result.uplift,
                    confidence_low=o.result.low,
                    confidence_high=o.result.high,
                    variance_reduced=o.result.variance_reduced,
                )
                for o in found.outcomes
            ],
            guardrails=[
                CampaignGuardrail(name=g.name, treated_value=g.treated, held_out_value=g.held_out)
                for g in found.guardrails
            ],
        )


@strawberry.type
class Campaign(relay.Node):
    id: relay.NodeID[int]
    key: str
    name: str
    state: str = strawberry.field(description="draft, live, paused or ended.")
    holdout_share: float
    version: int
    source: str = strawberry.field(description="programme (the programme file) or admin.")

    @strawberry.field(description="Whether it worked: treated against held out (admin).")
    async def report(self, info: Info[Context, None]) -> CampaignReport:
        require_scope(info, "admin")
        return CampaignReport.of(await info.context.services.campaigns.report(self.id))

    @classmethod
    def from_row(cls, row: CampaignRow) -> Campaign:
        return cls(
            id=row.id,
            key=row.key,
            name=row.name,
            state=row.state,
            holdout_share=row.holdout_share,
            version=row.version,
            source=row.source,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Campaign | None]:
        require_scope(info, "admin")
        rows = await info.context.loaders.campaigns.campaign.load_many(
            [row_id(i) for i in node_ids]
        )
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type
class CampaignBlocked:
    reason: str
    count: int


@strawberry.type(description="Who would enter now, who held out, who stopped and why.")
class CampaignDryRun:
    would_enter: int
    held_out: int
    blocked: list[CampaignBlocked]

    @classmethod
    def of(cls, found: DryRun) -> CampaignDryRun:
        return cls(
            would_enter=found.would_enter,
            held_out=found.held_out,
            blocked=[CampaignBlocked(reason=r, count=n) for r, n in sorted(found.blocked.items())],
        )


@strawberry.type
class CampaignJourneyStep:
    name: str
    state: str = strawberry.field(
        description="done, skipped, held_out, waiting, received or timed_out."
    )
    at: datetime
    skipped_reason: str | None


@strawberry.type(description="One member's way through one campaign.")
class CampaignEnrolment:
    enrolment_id: strawberry.Private[int]
    campaign_id: strawberry.Private[int]
    held_out: bool
    state: str = strawberry.field(description="active, waiting, completed or exited.")
    entered_at: datetime

    @strawberry.field
    async def campaign(self, info: Info[Context, None]) -> Campaign:
        row = await info.context.loaders.campaigns.campaign.load(self.campaign_id)
        assert row is not None
        return Campaign.from_row(row)

    @strawberry.field
    async def steps(self, info: Info[Context, None]) -> list[CampaignJourneyStep]:
        rows = await info.context.loaders.campaigns.steps.load(self.enrolment_id)
        return [
            CampaignJourneyStep(
                name=r.step_key, state=r.state, at=r.at, skipped_reason=r.skipped_reason
            )
            for r in rows
        ]

    @classmethod
    def of(cls, row: EnrolmentRow) -> CampaignEnrolment:
        return cls(
            enrolment_id=row.id,
            campaign_id=row.campaign_id,
            held_out=row.held_out,
            state=row.state,
            entered_at=row.entered_at,
        )


async def enrolments_of(info: Info[Context, None], member_id: int) -> list[CampaignEnrolment]:
    require_scope(info, "admin")
    rows = await info.context.loaders.campaigns.enrolments.load(member_id)
    return [CampaignEnrolment.of(r) for r in rows]
