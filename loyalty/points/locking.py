"""Naming the member and locking their account in one statement, with the probes of other
areas (`loyalty.core.probes`) answered in the same round trip.

PostgreSQL: `SELECT members.*, point_accounts.*, <probes> … FOR UPDATE OF point_accounts`
waits for the account's row lock like `ledger.lock_account`; the account it returns is the
row as the last holder of the lock left it. What else the statement reads comes from before
the wait, which is why probes ask only what the lock does not serialise. SQLite: the write
transaction already holds the database's one write lock.

A member without an account row yet (their first balance change) is looked up and their
account created as before, without probes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core import probes
from loyalty.core.identifiers import normalise_member_number
from loyalty.members.models import Member
from loyalty.points import ledger
from loyalty.points.models import PointAccount
from loyalty.points.refs import MemberRef, resolve_member


def _named(ref: MemberRef) -> tuple[ColumnElement[Any], object] | None:
    """The column that names the member and the value it must have."""
    given = [v for v in (ref.member_id, ref.member_number, ref.barcode) if v is not None]
    if len(given) != 1:
        return None  # resolve_member says what is wrong
    if ref.member_id is not None:
        return Member.__table__.c.id, ref.member_id
    if ref.member_number is not None:
        return Member.__table__.c.member_number, normalise_member_number(ref.member_number)
    return Member.__table__.c.card_barcode, (ref.barcode or "").strip()


# The statement per naming column and set of probes, built (and compiled) once.
_statements: dict[tuple[str, tuple[str, ...]], Select[Any]] = {}


def _statement(column: ColumnElement[Any], asked: list[str]) -> Select[Any]:
    key = (str(column.key), tuple(asked))
    found = _statements.get(key)
    if found is None:
        found = _statements[key] = (
            select(Member, PointAccount, *probes.columns(Member.id))
            .join(PointAccount, PointAccount.member_id == Member.id)
            .where(column == bindparam("named"))
            .with_for_update(of=PointAccount)
            .execution_options(populate_existing=True)
        )
    return found


async def lock_member(
    s: AsyncSession, ref: MemberRef, now: datetime
) -> tuple[Member, PointAccount]:
    """The member `ref` names and their account, locked until the transaction ends."""
    named = _named(ref)
    if named is not None:
        asked = probes.names()
        statement = _statement(named[0], asked)
        row = (await s.execute(statement, {"named": named[1]})).first()
        if row is not None:
            member, account = row[0], row[1]
            probes.remember(s, member.id, asked, row[2:])
            return member, account
    member = await resolve_member(s, ref)
    return member, await ledger.lock_account(s, member.id, now)
