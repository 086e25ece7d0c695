"""The points account of a member: made on first use, and the lock that serialises every change
of the member's points (`loyalty.points.ledger` expects the caller to hold it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.points.models import PointAccount


async def lock_account(s: AsyncSession, member_id: int, now: datetime) -> PointAccount:
    """Create the member's account if needed and lock it until the transaction ends.
    PostgreSQL: a row lock (SELECT … FOR UPDATE). SQLite: the write transaction already holds
    the database's single write lock (BEGIN IMMEDIATE)."""
    return (await lock_accounts(s, [member_id], now))[member_id]


async def lock_accounts(
    s: AsyncSession, member_ids: Sequence[int], now: datetime
) -> dict[int, PointAccount]:
    """`lock_account` for many members in one statement, in the order of their ids (two
    transactions that lock some of the same accounts never wait for each other in a ring)."""
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    fresh = {
        "balance": 0,
        "debt": 0,
        "lifetime_earned": 0,
        "lifetime_spent": 0,
        "lifetime_expired": 0,
        "updated_at": now,
    }
    # An upsert that always touches the row: on PostgreSQL ON CONFLICT DO UPDATE takes the
    # row lock that SELECT … FOR UPDATE would, in one round trip (a batch of rows for many).
    stmt = (
        insert(PointAccount)
        .on_conflict_do_update(
            index_elements=[PointAccount.member_id],
            set_={"member_id": insert(PointAccount).excluded.member_id},
        )
        .returning(PointAccount)
    )
    params = [{"member_id": m, **fresh} for m in sorted(set(member_ids))]
    options = {"populate_existing": True}
    accounts = await s.scalars(stmt, params, execution_options=options)
    return {account.member_id: account for account in accounts}
