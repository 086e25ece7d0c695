"""A journey's step as it runs, and what came of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.messaging.budget import zone_of
from loyalty.programme.campaigns_spec import CampaignSpec
from loyalty.programme.spec import ProgrammeFile

if TYPE_CHECKING:
    from loyalty.campaigns.models import Campaign, CampaignEnrolment
    from loyalty.members.models import Member

DONE, SKIPPED, HELD_OUT, WAITING = "done", "skipped", "held_out", "waiting"


@dataclass
class Run:
    """One journey's step being run."""

    s: AsyncSession
    file: ProgrammeFile
    campaign: Campaign
    spec: CampaignSpec
    enrolment: CampaignEnrolment
    member: Member
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.member, self.file.programme.zone)


@dataclass(frozen=True)
class Outcome:
    state: str = DONE
    next: str | None = None  # a step key or EXIT; None: the step's default next
    due: datetime | None = None  # go on at this time (a wait)
    wait_for: str | None = None  # wait for this event until `due`
    timeout_step: str | None = None
    retry_at: datetime | None = None  # run this same step again then (quiet hours)
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
