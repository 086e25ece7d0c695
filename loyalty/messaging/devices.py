"""The phones that take a member's app pushes: registered by the app, removed by the member
or when the push service says the token is gone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.messaging.errors import MessagingError
from loyalty.messaging.models import Device
from loyalty.storage.database import Database

PLATFORMS = ("ios", "android")
MAX_TOKEN_LENGTH = 1024
# A member with more phones than this is more likely a script: the oldest goes.
MAX_DEVICES_PER_MEMBER = 20


@dataclass(frozen=True)
class Registration:
    device: Device
    created: bool


def clean_token(token: str) -> str:
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isprintable() or " " in token:
        raise DomainError(
            MessagingError.INVALID_TOKEN,
            f"A push token is 1-{MAX_TOKEN_LENGTH} printable characters",
            "token",
        )
    return token


def _check_platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise DomainError(
            MessagingError.INVALID_PLATFORM,
            f"Platform must be one of {', '.join(PLATFORMS)}",
            "platform",
        )
    return platform


async def register(
    s: AsyncSession, member_id: int, platform: str, token: str, now: datetime
) -> Registration:
    """Register (or refresh) a device token for the member. A token registered to another
    member moves to this one as a new device, so nothing queued for the other member (under
    the old device id) ever reaches this member."""
    problems: list[DomainError] = []
    try:
        platform = _check_platform(platform)
    except DomainError as exc:
        problems.append(exc)
    try:
        token = clean_token(token)
    except DomainError as exc:
        problems.append(exc)
    if problems:
        raise ValidationFailed(problems)
    existing = await s.scalar(select(Device).where(Device.token == token))
    if existing is not None and existing.member_id == member_id and existing.platform == platform:
        existing.last_seen_at = now
        await s.flush()
        return Registration(existing, created=False)
    if existing is not None:
        await s.delete(existing)
        await s.flush()
    device = Device(
        member_id=member_id, platform=platform, token=token, created_at=now, last_seen_at=now
    )
    s.add(device)
    await s.flush()
    await _trim(s, member_id)
    return Registration(device, created=True)


async def _trim(s: AsyncSession, member_id: int) -> None:
    ids = list(
        await s.scalars(
            select(Device.id)
            .where(Device.member_id == member_id)
            .order_by(Device.last_seen_at.desc(), Device.id.desc())
            .offset(MAX_DEVICES_PER_MEMBER)
        )
    )
    if ids:
        await s.execute(delete(Device).where(Device.id.in_(ids)))


async def unregister(s: AsyncSession, member_id: int, token: str) -> bool:
    """Remove the member's device with this token; False when the member has none such."""
    token = clean_token(token)
    result = await s.execute(
        delete(Device).where(Device.token == token, Device.member_id == member_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def remove(s: AsyncSession, device_id: int) -> None:
    """The push service said the token is gone."""
    await s.execute(delete(Device).where(Device.id == device_id))


async def devices_of(s: AsyncSession, member_ids: Sequence[int]) -> list[Device]:
    if not member_ids:
        return []
    rows = await s.scalars(
        select(Device).where(Device.member_id.in_(member_ids)).order_by(Device.id)
    )
    return list(rows)


class DeviceService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def register(self, member_id: int, platform: str, token: str) -> Registration:
        for attempt in range(3):
            try:
                async with self.db.unit_of_work() as uow:
                    result = await register(
                        uow.session, member_id, platform, token, self.clock.now()
                    )
                    await uow.commit()
                return result
            except IntegrityError:
                # The same token registered at the same moment by another request (PostgreSQL
                # only: SQLite has one writer). The second try sees the first one's row.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def unregister(self, member_id: int, token: str) -> bool:
        async with self.db.unit_of_work() as uow:
            removed = await unregister(uow.session, member_id, token)
            await uow.commit()
        return removed

    async def devices(self, member_id: int) -> list[Device]:
        async with self.db.unit_of_work(write=False) as uow:
            return await devices_of(uow.session, [member_id])
