"""Reading what a member's pass shows now, through the domain's read models and services."""

from __future__ import annotations

from loyalty.core.clock import Clock
from loyalty.core.identifiers import format_member_number
from loyalty.members.read import MemberReads
from loyalty.offers.service import OffersService
from loyalty.points.read import PointsReads
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database
from loyalty.tiers.read import TierReads
from loyalty.wallet.messages import PassMessage, latest_message
from loyalty.wallet.service import PassState
from wallet.passes import PassOffer, PassProgramme, PassView

MAX_OFFERS = 5


class PassViews:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.members = MemberReads(db)
        self.points = PointsReads(db, clock)
        self.tiers = TierReads(db, clock)
        self.offers = OffersService(db, clock)
        self._programme: tuple[ProgrammeFile, PassProgramme] | None = None

    async def programme(self) -> PassProgramme:
        """The programme's side of the passes; the same object while the programme file in
        force stays the same (the pass builder keeps what it made for it by identity)."""
        async with self.db.unit_of_work(write=False) as uow:
            file = await current_file(uow.session)
        if self._programme is not None and self._programme[0] is file:
            return self._programme[1]
        spec = file.programme
        made = PassProgramme(
            key=spec.key,
            name=spec.name,
            currency=spec.currency,
            point_value=spec.point_value,
            timezone=spec.timezone,
            look=file.wallet,
            stores=tuple(file.stores),
        )
        self._programme = (file, made)
        return made

    async def view(self, state: PassState) -> PassView | None:
        """The pass of `state`'s member as it should look now; None if the member is gone."""
        member = (await self.members.by_ids([state.member_id]))[0]
        if member is None:
            return None
        balance = (await self.points.balances([member.id]))[0]
        tier = (await self.tiers.statuses([member.id]))[0]
        offers = await self.offers.offers(member.id, limit=MAX_OFFERS)
        name = " ".join(p for p in (member.first_name, member.last_name) if p)
        return PassView(
            serial_number=state.serial_number,
            authentication_token=state.authentication_token,
            member_name=name or format_member_number(member.member_number),
            member_number=format_member_number(member.member_number),
            barcode_message=member.card_barcode,
            balance=balance.available,
            pending=balance.pending,
            tier=tier.level.name if tier else None,
            expiring_points=balance.expiring_points,
            expiring_at=balance.expiring_at,
            programme=await self.programme(),
            offers=tuple(
                PassOffer(
                    o.offer.key,
                    o.offer.title,
                    o.offer.description,
                    o.offer.valid_from,
                    o.offer.valid_until,
                )
                for o in offers
            ),
            modified_at=state.modified_at,
            message=await self._message(member.id),
        )

    async def _message(self, member_id: int) -> PassMessage | None:
        async with self.db.unit_of_work(write=False) as uow:
            return await latest_message(uow.session, member_id)
