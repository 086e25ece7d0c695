"""Secrets an installation generates for itself on first start, shared through the database."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite

from loyalty.auth.models import InstanceSecret
from loyalty.storage.database import Database


async def instance_secret(db: Database, name: str, now: datetime) -> str:
    """The secret called `name`, created at random the first time; every process that asks
    gets the same value, even when several start at once."""
    insert = postgresql.insert if db.is_postgres else sqlite.insert
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            insert(InstanceSecret)
            .values(name=name, value=secrets.token_urlsafe(48), created_at=now)
            .on_conflict_do_nothing(index_elements=[InstanceSecret.name])
        )
        row = await uow.session.get(InstanceSecret, name)
        await uow.commit()
    assert row is not None
    return row.value
