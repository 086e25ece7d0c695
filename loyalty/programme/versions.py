"""Every programme file applied, kept with who applied it and when; a rollback applies an
earlier one again (as a new version)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import CoreError, DomainError
from loyalty.programme.models import ProgrammeVersion
from loyalty.programme.spec import ProgrammeFile


async def record_version(
    s: AsyncSession, file: ProgrammeFile, now: datetime, applied_by: str | None, note: str | None
) -> ProgrammeVersion:
    """Keep the file just applied as the programme's next version."""
    key = file.programme.key
    last = await s.scalar(
        select(func.max(ProgrammeVersion.version)).where(ProgrammeVersion.programme_key == key)
    )
    row = ProgrammeVersion(
        programme_key=key,
        version=(last or 0) + 1,
        spec=file.model_dump(mode="json"),
        applied_at=now,
        applied_by=(applied_by or None) and applied_by[:120],
        note=(note or None) and note[:200],
    )
    s.add(row)
    await s.flush()
    return row


async def versions(s: AsyncSession) -> list[ProgrammeVersion]:
    """Every version applied, oldest first."""
    return list(await s.scalars(select(ProgrammeVersion).order_by(ProgrammeVersion.id)))


async def version_file(s: AsyncSession, number: int) -> ProgrammeFile:
    """The file applied as version `number` of the programme in force."""
    row = await s.scalar(
        select(ProgrammeVersion)
        .where(ProgrammeVersion.version == number)
        .order_by(ProgrammeVersion.id.desc())
        .limit(1)
    )
    if row is None:
        raise DomainError(CoreError.NOT_FOUND, f"No programme version {number}", "version")
    return ProgrammeFile.model_validate(row.spec)
