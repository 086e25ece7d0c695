"""Probes: small questions about a member that areas ask in a statement another area sends
anyway, so that a reaction with nothing to do costs no round trip.

An area registers a probe: a name and a function that, given the member's id column, makes a
scalar SQL expression (usually an EXISTS). The points area adds every probe to the statement
that locks the member's account before a purchase (`loyalty.points.locking`) and keeps the
answers in the session for the rest of that transaction. A reaction asks `answer(...)`: None
means nobody asked (run the query as usual); otherwise the value read.

A probe is read before the account lock is granted (on PostgreSQL, in the snapshot of the
statement that waits for it), so only ask what the member's lock does not serialise anyway:
whether any offer or survey is live, whether the member has a referral open. A reaction that
finds work still reads and changes its rows as before; a probe only lets it skip the read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

# The member's id as the statement names it (a column, or a mapped attribute).
MemberId = ColumnElement[int] | InstrumentedAttribute[int]
Probe = Callable[[MemberId], ColumnElement[Any]]

_probes: dict[str, Probe] = {}
# The probes' columns per member-id expression, built once (probes ask nothing that depends on
# a value, so the same expressions serve every statement; their SQL is compiled once too).
_built: dict[int, tuple[MemberId, list[ColumnElement[Any]]]] = {}
# Where a session keeps the answers: (the transaction they were read in, member id, answers).
_ANSWERS = "trouw.probes"


def register(name: str, probe: Probe) -> None:
    """Add (or replace) a probe; its name is prefixed by the area that asks it."""
    _probes[name] = probe
    _built.clear()


def columns(member_id: MemberId) -> list[ColumnElement[Any]]:
    """Every registered probe as a labelled column for the member `member_id` names."""
    built = _built.get(id(member_id))
    if built is None or built[0] is not member_id:
        made: list[ColumnElement[Any]] = [
            probe(member_id).label(f"probe_{i}") for i, probe in enumerate(_probes.values())
        ]
        built = (member_id, made)
        _built[id(member_id)] = built
    return list(built[1])


def names() -> list[str]:
    return list(_probes)


def remember(s: AsyncSession, member_id: int, asked: Iterable[str], values: Iterable[Any]) -> None:
    """Keep the answers read for `member_id` in the session's open transaction."""
    answers = dict(zip(asked, values, strict=True))
    s.info[_ANSWERS] = (s.sync_session.get_transaction(), member_id, answers)


def answer(s: AsyncSession, name: str, member_id: int | None = None) -> Any | None:
    """The probe's answer for the member (None: whichever member was asked about) in this
    transaction, or None when it was not asked."""
    kept = s.info.get(_ANSWERS)
    if kept is None:
        return None
    transaction, member, answers = kept
    if transaction is not s.sync_session.get_transaction():
        return None
    if member_id is not None and member != member_id:
        return None
    return answers.get(name)


def forget(s: AsyncSession) -> None:
    s.info.pop(_ANSWERS, None)
