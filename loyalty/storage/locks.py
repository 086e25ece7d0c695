"""Installation-wide locks for work that one process at a time should do."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def try_exclusive(s: AsyncSession, key: int) -> bool:
    """Take the lock `key` until the transaction ends, or say it is taken. PostgreSQL: an
    advisory lock. SQLite: always True, its write transaction already excludes the others."""
    if s.get_bind().dialect.name != "postgresql":
        return True
    return bool(await s.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))
