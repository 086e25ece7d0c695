"""Campaign mutations: a late delivery (pos or admin), the cue of recovery campaigns; and
making, changing, pausing and ending campaigns (admin), checked as the programme file's."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from api.campaigns.inputs import (
    CreateCampaignInput,
    ReportLateDeliveryInput,
    SetCampaignStateInput,
    UpdateCampaignInput,
)
from api.campaigns.queries import campaign_row_id
from api.campaigns.types import Campaign
from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.permissions import require_scope
from loyalty.auth.apikeys import Integration
from loyalty.core.errors import DomainError

if TYPE_CHECKING:
    from loyalty.campaigns.models import Campaign as CampaignRow


@strawberry.type
class ReportLateDeliveryPayload:
    accepted: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CampaignPayload:
    campaign: Campaign | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _changed(change: Awaitable[CampaignRow]) -> CampaignPayload:
    try:
        return CampaignPayload(campaign=Campaign.from_row(await change))
    except DomainError as exc:
        return CampaignPayload(user_errors=user_errors(exc))


@strawberry.type
class CampaignMutations:
    @strawberry.mutation(
        description="Report that a member's order arrived late (pos or admin): the "
        "`delivery.late` event that recovery campaigns such as Excuse+ enter on."
    )
    async def report_late_delivery(
        self, info: Info[Context, None], input: ReportLateDeliveryInput
    ) -> ReportLateDeliveryPayload:
        principal = info.context.principal
        if not (isinstance(principal, Integration) and principal.allows("admin")):
            require_scope(info, "pos")
        try:
            await info.context.services.campaigns.report_late_delivery(
                input.member.to_domain(), input.order_id, input.days_late, input.store
            )
        except DomainError as exc:
            return ReportLateDeliveryPayload(user_errors=user_errors(exc))
        return ReportLateDeliveryPayload(accepted=True)

    @strawberry.mutation(description="Make a campaign (admin), checked as the programme file's.")
    async def create_campaign(
        self, info: Info[Context, None], input: CreateCampaignInput
    ) -> CampaignPayload:
        require_scope(info, "admin")
        return await _changed(info.context.services.campaign_admin.create(input.as_mapping()))

    @strawberry.mutation(description="Change a campaign made through this API (admin).")
    async def update_campaign(
        self, info: Info[Context, None], input: UpdateCampaignInput
    ) -> CampaignPayload:
        require_scope(info, "admin")
        admin = info.context.services.campaign_admin
        return await _changed(
            admin.update(
                campaign_row_id(input.campaign_id), input.as_mapping(), input.expected_version
            )
        )

    @strawberry.mutation(description="Put a campaign live, pause or end it (admin).")
    async def set_campaign_state(
        self, info: Info[Context, None], input: SetCampaignStateInput
    ) -> CampaignPayload:
        require_scope(info, "admin")
        admin = info.context.services.campaign_admin
        return await _changed(
            admin.set_state(campaign_row_id(input.campaign_id), input.state.value)
        )
