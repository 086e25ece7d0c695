"""Use cases around a member's own profile and consents."""

from __future__ import annotations

from loyalty import members
from loyalty.clock import Clock
from loyalty.errors import DomainError
from loyalty.programme.store import current_settings
from loyalty.storage.database import Database
from loyalty.storage.models import Member, MemberConsent


class ProfileService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def update(self, member_id: int, data: members.ProfileInput) -> Member:
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            settings = await current_settings(uow.session)
            values = members.clean_profile(
                data, today=now.astimezone(settings.zone).date(), country=settings.country
            )
            member = await uow.session.get(Member, member_id)
            if member is None:
                raise DomainError("NOT_FOUND", "Member not found")
            await members.update_profile(uow.session, member, values, now)
            await uow.commit()
        return member

    async def set_consent(self, member_id: int, channel: str, granted: bool) -> MemberConsent:
        async with self.db.unit_of_work() as uow:
            consent = await members.set_consent(
                uow.session, member_id, channel, granted, self.clock.now()
            )
            await uow.commit()
        return consent
