"""Inputs of campaigns: a late delivery (pos or admin) and making and changing campaigns
(admin, the programme file's definition as JSON)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.points.inputs import MemberReferenceInput

DEFINITION_HELP = (
    "The campaign, as the programme file's `campaigns.definitions` writes one (snake_case "
    "keys: `key`, `name`, `state`, `holdout_share`, `entry`, `rules`, `evaluation`, `steps`). "
    "Problems are reported at their path, such as `steps.waitFor`."
)


@strawberry.enum(description="Where a campaign is in its life.")
class CampaignState(Enum):
    DRAFT = "draft"
    LIVE = "live"
    PAUSED = "paused"
    ENDED = "ended"


@strawberry.input
class ReportLateDeliveryInput:
    member: MemberReferenceInput
    order_id: str = strawberry.field(description="The web shop's or till's order id.")
    days_late: int
    store: str | None = None


@strawberry.input
class CreateCampaignInput:
    definition: JSON = strawberry.field(description=DEFINITION_HELP)

    def as_mapping(self) -> dict[str, Any]:
        return dict(self.definition) if isinstance(self.definition, dict) else {}


@strawberry.input
class UpdateCampaignInput:
    campaign_id: strawberry.ID
    definition: JSON = strawberry.field(description=DEFINITION_HELP)
    expected_version: int | None = None

    def as_mapping(self) -> dict[str, Any]:
        return dict(self.definition) if isinstance(self.definition, dict) else {}


@strawberry.input
class SetCampaignStateInput:
    campaign_id: strawberry.ID
    state: CampaignState
