"""Fixed-window counters in the database, so every process sees the same count."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.auth.models import RateLimitCounter

_MAX_KEY = 255  # RateLimitCounter.bucket


def _window(bucket: str, window: timedelta, now: datetime) -> tuple[str, datetime]:
    seconds = window.total_seconds()
    index = int(now.timestamp() // seconds)
    key = f"{bucket}@{index}"
    if len(key) > _MAX_KEY:
        # Buckets carry caller input (an email address may be 254 characters); keep them in
        # the column by hashing the long ones.
        key = f"sha256:{hashlib.sha256(bucket.encode('utf-8')).hexdigest()}@{index}"
    return key, datetime.fromtimestamp(index * seconds, tz=UTC)


async def hit(session: AsyncSession, bucket: str, window: timedelta, now: datetime) -> int:
    """Count one more event in the bucket's current window and return the new count."""
    key, start = _window(bucket, window, now)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(RateLimitCounter)
        .values(bucket=key, window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=[RateLimitCounter.bucket],
            set_={"count": RateLimitCounter.count + 1},
        )
        .returning(RateLimitCounter.count)
    )
    return int((await session.execute(stmt)).scalar_one())


async def count(session: AsyncSession, bucket: str, window: timedelta, now: datetime) -> int:
    key, _ = _window(bucket, window, now)
    row = await session.get(RateLimitCounter, key)
    return row.count if row else 0


async def reset(session: AsyncSession, bucket: str, window: timedelta, now: datetime) -> None:
    key, _ = _window(bucket, window, now)
    await session.execute(delete(RateLimitCounter).where(RateLimitCounter.bucket == key))


async def prune(session: AsyncSession, older_than: datetime) -> None:
    await session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.window_start < older_than)
    )
