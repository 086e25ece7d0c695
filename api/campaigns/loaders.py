"""DataLoaders of campaigns: campaigns by id, journeys by member and steps by journey, so a
list of members costs one query per kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from loyalty.campaigns.models import Campaign, CampaignEnrolment, CampaignStep
    from loyalty.campaigns.read import CampaignReads


class CampaignLoaders:
    def __init__(self, reads: CampaignReads, *, cache: bool = True) -> None:
        self.campaign: DataLoader[int, Campaign | None] = DataLoader(
            load_fn=self._campaigns(reads), cache=cache
        )
        self.enrolments: DataLoader[int, list[CampaignEnrolment]] = DataLoader(
            load_fn=self._enrolments(reads), cache=cache
        )
        self.steps: DataLoader[int, list[CampaignStep]] = DataLoader(
            load_fn=self._steps(reads), cache=cache
        )

    @staticmethod
    def _campaigns(reads: CampaignReads) -> Any:
        async def load(ids: list[int]) -> list[Campaign | None]:
            found = await reads.by_ids(ids)
            return [found.get(i) for i in ids]

        return load

    @staticmethod
    def _enrolments(reads: CampaignReads) -> Any:
        async def load(ids: list[int]) -> list[list[CampaignEnrolment]]:
            found = await reads.enrolments_of(ids)
            return [found[i] for i in ids]

        return load

    @staticmethod
    def _steps(reads: CampaignReads) -> Any:
        async def load(ids: list[int]) -> list[list[CampaignStep]]:
            found = await reads.steps_of(ids)
            return [found[i] for i in ids]

        return load
