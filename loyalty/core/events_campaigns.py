"""Events of lifecycle campaigns, and the late delivery that can start one."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.core.event_base import Event


@dataclass(frozen=True, kw_only=True)
class DeliveryLate(Event):
    name = "delivery.late"
    description = (
        "A till, web shop or back office reported that an order reached the member late: "
        "the cue for a recovery campaign such as Excuse+."
    )

    order_id: str
    days_late: int
    store: str | None = None


@dataclass(frozen=True, kw_only=True)
class CampaignEntered(Event):
    name = "campaign.entered"
    description = (
        "The member entered a campaign's journey; `held_out` members go through it without "
        "receiving anything, so that the campaign's effect can be measured."
    )

    campaign_id: int
    campaign_key: str
    enrolment_id: int
    held_out: bool


@dataclass(frozen=True, kw_only=True)
class CampaignMessage(Event):
    name = "campaign.message"
    description = (
        "A campaign sends the member a message over `channel` (inbox, push, pass or webhook, "
        "the latter for the brand's email or SMS), after the contact budget, quiet hours and "
        "consent allowed it."
    )

    campaign_key: str
    enrolment_id: int
    step: str
    channel: str
    template: str
    title: str
    body: str
    transactional: bool = False
