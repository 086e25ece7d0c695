"""The programme an installation runs: applying a programme file, and reading it back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError
from loyalty.programme.errors import ProgrammeError
from loyalty.programme.models import Programme
from loyalty.programme.spec import ProgrammeFile, ProgrammeSpec


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
# The last programme file parsed, with the stored document it came from: validation is not
# free, and comparing the stored document tells when another process applied a new one.
_parsed: list[tuple[dict[str, Any], ProgrammeFile]] = []


# Where a session keeps the file it read: one transaction sees one programme, and the steps
# and reactions of one change do not each read the row again.
_SESSION_KEY = "trouw.programme_file"


async def current_file(session: AsyncSession) -> ProgrammeFile:
    """The programme file in force, or a neutral default before any was applied."""
    known: ProgrammeFile | None = session.info.get(_SESSION_KEY)
    if known is not None:
        return known
    row = await current_programme(session)
    if row is None:
        parsed = DEFAULT_FILE
    elif _parsed and _parsed[0][0] == row.spec:
        parsed = _parsed[0][1]
    else:
        parsed = ProgrammeFile.model_validate(row.spec)
        _parsed[:] = [(row.spec, parsed)]
    session.info[_SESSION_KEY] = parsed
    return parsed


async def current_programme(session: AsyncSession) -> Programme | None:
    return await session.scalar(select(Programme).order_by(Programme.id).limit(1))


async def current_settings(session: AsyncSession) -> ProgrammeSettings:
    row = await current_programme(session)
    if row is None:
        return DEFAULT_SETTINGS
    return ProgrammeSettings(
        row.key, row.name, row.currency, Decimal(row.point_value), row.timezone, row.country
    )


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
    session.info.pop(_SESSION_KEY, None)
    await session.flush()
    return row, created
