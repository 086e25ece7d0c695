"""The PassKit web service's bookkeeping: passes, registrations, update tags and pushes due.

Every check of a pass's authentication token is constant-time. A wrong serial number and a
wrong token are the same answer (None), so a caller cannot probe for serial numbers.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.events import WalletPassAdded, WalletPassRemoved
from loyalty.core.outbox import emit
from loyalty.storage.database import Database, insert_for
from loyalty.wallet.models import WalletPass, WalletRegistration
from loyalty.wallet.point_reads import PointReads

MAX_DEVICE_ID = 128
MAX_PUSH_TOKEN = 256
# Changes within one second would share a Last-Modified (HTTP dates have whole seconds); the
# later is moved on a second so If-Modified-Since never hides it.
ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class PassState:
    """A pass's identity and where it stands (a snapshot, not a live row)."""

    id: int
    member_id: int
    serial_number: str
    authentication_token: str
    update_tag: int
    modified_at: datetime
    google_synced_tag: int | None = None
    google_notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Installs:
    """Where members' passes are now: Apple passes with at least one device registered for
    their updates, those devices, and cards saved to Google Wallet."""

    apple_passes: int
    apple_devices: int
    google_passes: int


@dataclass(frozen=True)
class DuePush:
    pass_id: int
    update_tag: int
    push_tokens: tuple[str, ...]


_STATE = (
    WalletPass.id,
    WalletPass.member_id,
    WalletPass.serial_number,
    WalletPass.authentication_token,
    WalletPass.update_tag,
    WalletPass.modified_at,
    WalletPass.google_synced_tag,
    WalletPass.google_notices,
)
# Made once: the web service asks for a pass by serial number on every request.
_BY_SERIAL = select(*_STATE).where(WalletPass.serial_number == bindparam("serial"))


def _state_of(row: Sequence[Any]) -> PassState:
    pass_id, member_id, serial, token, tag, modified_at, synced, notices = row
    return PassState(
        pass_id, member_id, serial, token, tag, modified_at, synced, tuple(notices or ())
    )


def _state(row: WalletPass) -> PassState:
    return PassState(
        row.id,
        row.member_id,
        row.serial_number,
        row.authentication_token,
        row.update_tag,
        row.modified_at,
        row.google_synced_tag,
        tuple(row.google_notices or ()),
    )


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


async def mark_changed(s: AsyncSession, member_id: int, tag: int, at: datetime) -> None:
    """The member's pass (if they have one) changed with event `tag` at `at`."""
    row = await s.scalar(
        select(WalletPass).where(WalletPass.member_id == member_id).with_for_update()
    )
    if row is None or row.update_tag >= tag:
        return  # no pass, or this event was counted already
    row.update_tag = tag
    row.modified_at = max(_whole_second(at), row.modified_at + ONE_SECOND)
    if row.pending_since is None:
        row.pending_since = at


class WalletService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._point_reads = PointReads(db)

    def close(self) -> None:
        self._point_reads.close()

    async def pass_of(self, member_id: int) -> PassState:
        """The member's pass, made the first time it is asked for."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            await s.execute(
                insert_for(s)(WalletPass)
                .values(
                    member_id=member_id,
                    serial_number=secrets.token_hex(16),
                    authentication_token=secrets.token_urlsafe(24),
                    update_tag=0,
                    pushed_tag=0,
                    modified_at=_whole_second(now),
                    created_at=now,
                    google_notices=[],
                )
                .on_conflict_do_nothing(index_elements=[WalletPass.member_id])
            )
            row = await s.scalar(select(WalletPass).where(WalletPass.member_id == member_id))
            await uow.commit()
        assert row is not None
        return _state(row)

    async def by_serial(self, serial: str) -> PassState | None:
        """One indexed read, without an ORM session: the PassKit web service asks this on
        every request (most of them answered 304); on SQLite straight from the file
        (`loyalty.wallet.point_reads`)."""
        fast = self._point_reads.first(_BY_SERIAL, {"serial": serial})
        if fast is not None:
            return _state_of(fast[0]) if fast[0] is not None else None
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(_BY_SERIAL, {"serial": serial})).first()
        return _state_of(row) if row is not None else None

    async def authorised(self, serial: str, token: str | None) -> PassState | None:
        """The pass, if `token` is its authentication token; else None."""
        found = await self.by_serial(serial) if token else None
        if found is None or not hmac.compare_digest(
            found.authentication_token.encode(), (token or "").encode()
        ):
            return None
        return found

    async def register(
        self, device: str, serial: str, token: str | None, push_token: str
    ) -> Literal["created", "updated", "unauthorised"]:
        found = await self.authorised(serial, token)
        if found is None:
            return "unauthorised"
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            existing = await s.scalar(
                select(WalletRegistration).where(
                    WalletRegistration.device_library_id == device,
                    WalletRegistration.pass_id == found.id,
                )
            )
            if existing is not None:
                existing.push_token, existing.updated_at = push_token, now
                await uow.commit()
                return "updated"
            added = await s.execute(
                insert_for(s)(WalletRegistration)
                .values(
                    device_library_id=device,
                    pass_id=found.id,
                    push_token=push_token,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing()
            )
            if added.rowcount:  # type: ignore[attr-defined]
                event = WalletPassAdded(
                    member_id=found.member_id, wallet="apple", serial_number=serial
                )
                emit(s, event, now)
            await uow.commit()
        return "created"

    async def unregister(self, device: str, serial: str, token: str | None) -> bool:
        """False when the token is wrong (nothing changes)."""
        found = await self.authorised(serial, token)
        if found is None:
            return False
        async with self.db.unit_of_work() as uow:
            gone = await uow.session.execute(
                delete(WalletRegistration).where(
                    WalletRegistration.device_library_id == device,
                    WalletRegistration.pass_id == found.id,
                )
            )
            if gone.rowcount:  # type: ignore[attr-defined]
                event = WalletPassRemoved(
                    member_id=found.member_id, wallet="apple", serial_number=serial,
                    reason="removed",
                )  # fmt: skip
                emit(uow.session, event, self.clock.now())
            await uow.commit()
        return True

    async def updated_serials(self, device: str, since: int | None) -> tuple[list[str], int]:
        """The serial numbers of the device's passes changed after tag `since` (all of them
        without one), in order, and the newest tag among them."""
        async with self.db.unit_of_work(write=False) as uow:
            query = (
                select(WalletPass.serial_number, WalletPass.update_tag)
                .join(WalletRegistration, WalletRegistration.pass_id == WalletPass.id)
                .where(WalletRegistration.device_library_id == device)
                .order_by(WalletPass.serial_number)
            )
            if since is not None:
                query = query.where(WalletPass.update_tag > since)
            rows = (await uow.session.execute(query)).all()
        return [r.serial_number for r in rows], max((r.update_tag for r in rows), default=0)

    async def due_pushes(self, changed_before: datetime, limit: int = 100) -> list[DuePush]:
        """Passes with changes not yet pushed, the first of them before `changed_before`."""
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            passes = (
                await s.execute(
                    select(WalletPass.id, WalletPass.update_tag)
                    .where(WalletPass.pending_since <= changed_before)
                    .order_by(WalletPass.pending_since, WalletPass.id)
                    .limit(limit)
                )
            ).all()
            ids = [p.id for p in passes]
            tokens = (
                await s.execute(
                    select(WalletRegistration.pass_id, WalletRegistration.push_token)
                    .where(WalletRegistration.pass_id.in_(ids))
                    .order_by(WalletRegistration.id)
                )
            ).all()
        by_pass: dict[int, list[str]] = {i: [] for i in ids}
        for pass_id, push_token in tokens:
            if push_token not in by_pass[pass_id]:
                by_pass[pass_id].append(push_token)
        return [DuePush(p.id, p.update_tag, tuple(by_pass[p.id])) for p in passes]

    async def pushed(self, pass_id: int, tag: int) -> None:
        """The devices were told about the pass up to `tag`; changes since stay pending."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            await uow.session.execute(
                update(WalletPass).where(WalletPass.id == pass_id).values(pending_since=None)
            )
            await uow.session.execute(
                update(WalletPass)
                .where(WalletPass.id == pass_id, WalletPass.pushed_tag < tag)
                .values(pushed_tag=tag)
            )
            # A change that came in while the devices were being pushed is pushed next round.
            await uow.session.execute(
                update(WalletPass)
                .where(WalletPass.id == pass_id, WalletPass.update_tag > tag)
                .values(pending_since=now)
            )
            await uow.commit()

    async def forget_push_tokens(self, push_tokens: Sequence[str]) -> None:
        """APNs says these tokens are gone: their registrations go."""
        if not push_tokens:
            return
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            gone = (
                await s.execute(
                    delete(WalletRegistration)
                    .where(WalletRegistration.push_token.in_(push_tokens))
                    .returning(WalletRegistration.pass_id)
                )
            ).all()
            owners = {
                row.id: row
                for row in await s.execute(
                    select(WalletPass.id, WalletPass.member_id, WalletPass.serial_number).where(
                        WalletPass.id.in_({g.pass_id for g in gone})
                    )
                )
            }
            for g in gone:
                owner = owners[g.pass_id]
                event = WalletPassRemoved(
                    member_id=owner.member_id, wallet="apple",
                    serial_number=owner.serial_number, reason="device_gone",
                )  # fmt: skip
                emit(s, event, now)
            await uow.commit()

    # -- Google Wallet -------------------------------------------------------------------

    async def google_synced(
        self, pass_id: int, tag: int, notified_at: datetime | None = None
    ) -> None:
        """Google's object shows the pass up to `tag` (made, or patched); `notified_at` when
        the member was notified of it."""
        async with self.db.unit_of_work() as uow:
            row = await uow.session.get(WalletPass, pass_id, with_for_update=True)
            if row is None:
                return
            if row.google_synced_tag is None or row.google_synced_tag < tag:
                row.google_synced_tag = tag
            if notified_at is not None:
                row.google_notices = [*(row.google_notices or [])[-2:], notified_at.isoformat()]
            await uow.commit()

    async def google_due(self, limit: int = 100) -> list[PassState]:
        """Passes whose Google object shows an older state than the pass."""
        async with self.db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(
                select(WalletPass)
                .where(
                    WalletPass.google_synced_tag.is_not(None),
                    WalletPass.update_tag > WalletPass.google_synced_tag,
                )
                .order_by(WalletPass.id)
                .limit(limit)
            )
            return [_state(r) for r in rows]

    async def google_saved(self, serial: str, saved: bool) -> bool:
        """Google says the member saved (or deleted) their card; False when no pass has that
        serial number. Only a change is recorded (`wallet.pass_added` or `_removed`), so a
        callback Google delivers twice counts once."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            row = await uow.session.scalar(
                select(WalletPass).where(WalletPass.serial_number == serial).with_for_update()
            )
            if row is None:
                return False
            if (row.google_saved_at is not None) != saved:
                row.google_saved_at = now if saved else None
                event: WalletPassAdded | WalletPassRemoved = (
                    WalletPassAdded(member_id=row.member_id, wallet="google", serial_number=serial)
                    if saved
                    else WalletPassRemoved(
                        member_id=row.member_id, wallet="google", serial_number=serial,
                        reason="removed",
                    )
                )  # fmt: skip
                emit(uow.session, event, now)
            await uow.commit()
        return True

    async def installs(self) -> Installs:
        """How many passes are in Apple Wallet and in Google Wallet now (one read)."""
        async with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            apple = (
                await s.execute(
                    select(
                        func.count(func.distinct(WalletRegistration.pass_id)),
                        func.count(WalletRegistration.id),
                    )
                )
            ).one()
            google = await s.scalar(
                select(func.count()).where(WalletPass.google_saved_at.is_not(None))
            )
        return Installs(apple[0], apple[1], google or 0)
