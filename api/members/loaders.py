"""DataLoaders of members: members by id and their consents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

if TYPE_CHECKING:
    from loyalty.members.models import Member, MemberConsent
    from loyalty.members.read import MemberReads


class MemberLoaders:
    def __init__(self, reads: MemberReads, *, cache: bool = True) -> None:
        self.member: DataLoader[int, Member | None] = DataLoader(load_fn=reads.by_ids, cache=cache)
        self.consents: DataLoader[int, list[MemberConsent]] = DataLoader(
            load_fn=reads.consents_of, cache=cache
        )
