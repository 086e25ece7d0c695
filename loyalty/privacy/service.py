"""Data subject requests: exports, erasure with a grace period, the verifier and re-wrapping
member keys under a new master key. Each use case is one unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from loyalty.areas import metadata, register_personal_data
from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, NotFound
from loyalty.core.personal import keyring_of
from loyalty.core.personal_data import PersonalDataRegistry
from loyalty.members.models import Member
from loyalty.privacy import erasure as erasures
from loyalty.privacy.errors import PrivacyError
from loyalty.privacy.export import make_export, open_export
from loyalty.privacy.models import DataExport, MemberErasure
from loyalty.privacy.verify import Verification, parse, scan_table
from loyalty.storage.database import Database

# Checks a member's password against its stored hash (the composition root passes auth's).
PasswordCheck = Callable[[str, str], Awaitable[bool]]
MAX_GRACE = timedelta(days=365)


def default_registry() -> PersonalDataRegistry:
    """Every area's holdings (what the composition root builds too)."""
    return register_personal_data(PersonalDataRegistry())


@dataclass(frozen=True)
class PrivacyPolicy:
    grace: timedelta = timedelta(days=30)
    export_ttl: timedelta = timedelta(hours=24)


class PrivacyService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        registry: PersonalDataRegistry | None = None,
        policy: PrivacyPolicy | None = None,
        check_password: PasswordCheck | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.registry = registry or default_registry()
        self.policy = policy or PrivacyPolicy()
        self._check_password = check_password

    async def export(self, member_id: int, requested_by: str) -> tuple[DataExport, str]:
        """A complete export of the member's data and the token to download it with."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            export, token = await make_export(
                uow.session,
                self.registry,
                member_id,
                requested_by=requested_by,
                now=now,
                ttl=self.policy.export_ttl,
            )
            await uow.commit()
        return export, token

    async def download(self, token: str) -> dict[str, Any] | None:
        async with self.db.unit_of_work(write=False) as uow:
            return await open_export(uow.session, token, self.clock.now())

    async def request_erasure_by_member(
        self, member_id: int, *, confirm: bool, password: str | None
    ) -> MemberErasure:
        """The member closes their account: confirmed, and with their password if they have
        one (members of the brand's identity provider confirm only)."""
        if not confirm:
            raise DomainError(
                PrivacyError.CONFIRMATION_REQUIRED, "Confirm that the account is to be closed",
                "confirm",
            )  # fmt: skip
        async with self.db.unit_of_work(write=False) as uow:
            member = await uow.session.get(Member, member_id)
        if member is None:
            raise NotFound("Member")
        if member.password_hash is not None:
            ok = (
                password is not None
                and self._check_password is not None
                and await self._check_password(member.password_hash, password)
            )
            if not ok:
                raise DomainError(PrivacyError.WRONG_PASSWORD, "The password is wrong", "password")
        return await self.request_erasure(member_id, "member")

    async def request_erasure(
        self, member_id: int, requested_by: str, grace: timedelta | None = None
    ) -> MemberErasure:
        grace = self.policy.grace if grace is None else grace
        if grace < timedelta(0) or grace > MAX_GRACE:
            raise DomainError(
                PrivacyError.INVALID_GRACE_PERIOD, "The grace period is 0 to 365 days",
                "graceDays",
            )  # fmt: skip
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            found = await erasures.schedule(
                uow.session, member_id, requested_by=requested_by, now=now, grace=grace
            )
            await uow.commit()
        if grace == timedelta(0):
            await self.erase_due()
            async with self.db.unit_of_work(write=False) as uow:
                done = await uow.session.get(MemberErasure, found.id)
            return done or found
        return found

    async def cancel_erasure(self, member_id: int, erasure_id: int | None = None) -> MemberErasure:
        async with self.db.unit_of_work() as uow:
            found = await erasures.cancel(uow.session, member_id, self.clock.now(), erasure_id)
            await uow.commit()
        return found

    async def erase_due(self, limit: int = 100) -> int:
        """Carry out the erasures whose grace period is over; one transaction each."""
        now = self.clock.now()
        async with self.db.unit_of_work(write=False) as uow:
            ids = await erasures.due(uow.session, now, limit)
        done = 0
        for erasure_id in ids:
            async with self.db.unit_of_work() as uow:
                found = await uow.session.get(MemberErasure, erasure_id, with_for_update=True)
                if found is None or found.state != erasures.SCHEDULED:
                    continue  # cancelled meanwhile, or done by another process
                await erasures.carry_out(uow.session, self.registry, found, now)
                await uow.commit()
                done += 1
        if done:
            # No older copy of what was erased stays in SQLite's write-ahead log.
            await self.db.checkpoint()
        return done

    async def erasures_of(self, member_id: int) -> list[MemberErasure]:
        async with self.db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(
                select(MemberErasure)
                .where(MemberErasure.member_id == member_id)
                .order_by(MemberErasure.id)
            )
            return list(rows)

    async def verify(self, member_id: int) -> Verification:
        """Scan every table for what was erased of the member (see `loyalty.privacy.verify`)."""
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            member = await s.get(Member, member_id)
            if member is None:
                raise NotFound("Member")
            done = await s.scalar(
                select(MemberErasure)
                .where(
                    MemberErasure.member_id == member_id,
                    MemberErasure.state == erasures.COMPLETED,
                )
                .order_by(MemberErasure.id.desc())
                .limit(1)
            )
            report = Verification(
                member_id,
                erased=done is not None and member.status == "erased",
                key_deleted=member.data_key is None and member.personal is None,
            )
            wanted = parse(done.fingerprints if done else [])
            keyring = keyring_of(s)
            for table in metadata().sorted_tables:
                report.tables += 1
                if wanted:
                    await scan_table(s, table, wanted, keyring, report)
        return report

    async def rewrap_keys(self, batch: int = 500) -> int:
        """Re-wrap every member key under the current master key; returns how many changed.
        Once it has run, the older master keys can be removed from the configuration."""
        changed = 0
        after = 0
        while True:
            async with self.db.unit_of_work() as uow:
                keyring = keyring_of(uow.session)
                rows = list(
                    await uow.session.scalars(
                        select(Member)
                        .where(Member.id > after, Member.data_key.is_not(None))
                        .order_by(Member.id)
                        .limit(batch)
                    )
                )
                for member in rows:
                    if member.data_key is None or member.data_key_id is None:
                        continue
                    key_id, wrapped = keyring.rewrap(member.data_key_id, member.data_key)
                    if key_id != member.data_key_id:
                        member.data_key_id, member.data_key = key_id, wrapped
                        changed += 1
                await uow.commit()
            if len(rows) < batch:
                return changed
            after = rows[-1].id
