"""The programme an installation runs: applying a programme file, and reading it back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core import probes
from loyalty.core.errors import DomainError
from loyalty.programme.errors import ProgrammeError
from loyalty.programme.models import Programme
from loyalty.programme.spec import ProgrammeFile, ProgrammeSpec
from loyalty.storage import direct


@dataclass(frozen=True)
class ProgrammeSettings:
    key: str
    name: str
    currency: str
    point_value: Decimal
    timezone: str
    country: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# What an installation runs before any programme file has been applied.
DEFAULT_SETTINGS = ProgrammeSettings("default", "Trouw", "EUR", Decimal("0.01"), "UTC", "NL")


DEFAULT_FILE = ProgrammeFile(
    programme=ProgrammeSpec(
        key=DEFAULT_SETTINGS.key,
        name=DEFAULT_SETTINGS.name,
        currency=DEFAULT_SETTINGS.currency,
        point_value=DEFAULT_SETTINGS.point_value,
        timezone=DEFAULT_SETTINGS.timezone,
        country=DEFAULT_SETTINGS.country,
    )
)


@dataclass(frozen=True)
class _Known:
    """The programme in force as this process last read it."""

    revision: str
    file: ProgrammeFile
    settings: ProgrammeSettings


# The programme kept in memory, by its revision: a revision is a random token made anew for
# every applied file, so it names one file in any database and any process.
_known: dict[str, _Known] = {}


# Where a session keeps the programme it read: one transaction sees one programme, and the
# steps and reactions of one change do not each check it again.
_SESSION_KEY = "trouw.programme"


# The revision is also read where a purchase locks the member's account (a probe), so the
# purchase's transaction need not check it again.
_REVISION = "programme.revision"
probes.register(_REVISION, lambda _member: select(Programme.revision).limit(1).scalar_subquery())


# Built once: a transaction that has no probe answer reads it.
_REVISION_ROW = select(Programme.id, Programme.revision).limit(1)


async def _in_force(session: AsyncSession) -> _Known | None:
    known: _Known | None = session.info.get(_SESSION_KEY)
    if known is not None:
        return known
    read = probes.answer(session, _REVISION)
    if read is not None and read in _known:
        known = _known[read]
        session.info[_SESSION_KEY] = known
        return known
    found = await direct.first(session, _REVISION_ROW, {})
    if found is None:
        return None
    known = _known.get(found.revision) if found.revision else None
    if known is None:
        row = await session.get(Programme, found.id, populate_existing=True)
        assert row is not None
        known = _Known(row.revision, ProgrammeFile.model_validate(row.spec), _settings_of(row))
        if row.revision:
            _known.clear()
            _known[row.revision] = known
    session.info[_SESSION_KEY] = known
    return known


def _settings_of(row: Programme) -> ProgrammeSettings:
    return ProgrammeSettings(
        row.key, row.name, row.currency, Decimal(row.point_value), row.timezone, row.country
    )


async def current_file(session: AsyncSession) -> ProgrammeFile:
    """The programme file in force, or a neutral default before any was applied. Parsed once
    per process and revision; a transaction checks the revision once (one small column)."""
    known = await _in_force(session)
    return DEFAULT_FILE if known is None else known.file


async def current_programme(session: AsyncSession) -> Programme | None:
    return await session.scalar(select(Programme).order_by(Programme.id).limit(1))


async def current_settings(session: AsyncSession) -> ProgrammeSettings:
    known = await _in_force(session)
    return DEFAULT_SETTINGS if known is None else known.settings


async def apply_programme(
    session: AsyncSession, file: ProgrammeFile, now: datetime
) -> tuple[Programme, bool]:
    """Create or update the installation's programme; returns it and whether it is new.
    One installation runs one programme, so a file with another key is refused."""
    spec = file.programme
    row = await current_programme(session)
    created = row is None
    if row is None:
        row = Programme(key=spec.key, created_at=now)
        session.add(row)
    elif row.key != spec.key:
        raise DomainError(
            ProgrammeError.PROGRAMME_MISMATCH,
            f"this installation runs programme {row.key!r}; the file describes {spec.key!r}",
            "programme.key",
        )
    row.name = spec.name
    row.currency = spec.currency
    row.point_value = spec.point_value
    row.timezone = spec.timezone
    row.country = spec.country
    row.spec = file.model_dump(mode="json")
    row.updated_at = now
    row.revision = uuid.uuid4().hex
    session.info.pop(_SESSION_KEY, None)
    await session.flush()
    return row, created
