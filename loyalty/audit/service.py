"""Writing to the audit log and reading it back. There is no function that changes or
removes an entry.

`record_in(session, record, now)` is the hook for every area that must leave a trace in the
same transaction as its change (API keys, exports and erasures); `AuditLog.record` writes one
entry in a transaction of its own (what the API does after an admin or till mutation).

A mutation whose write knows every object it touches (a till's purchase) is instead recorded
in the write's own transaction: the API arms the entry (`armed`) before the resolver runs, an
in-transaction reaction completes it with the objects (`record_armed`), and it commits or rolls
back with the change; the API writes its own entry only when none committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit.models import AuditEntry
from loyalty.core.clock import Clock
from loyalty.storage.database import Database


@dataclass(frozen=True)
class Actor:
    kind: str  # "api_key", "operator" or "system"
    name: str
    id: str | None = None


SYSTEM = Actor("system", "trouw")


@dataclass(frozen=True)
class AuditRecord:
    actor: Actor
    action: str
    outcome: str = "ok"
    targets: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    client_address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _clip(text: str | None, length: int) -> str | None:
    return text[:length] if text is not None else None


async def record_in(session: AsyncSession, record: AuditRecord, now: datetime) -> AuditEntry:
    """Add an entry inside the caller's unit of work: it commits or rolls back with the
    change it describes."""
    entry = _entry(record, now)
    session.add(entry)
    await session.flush()
    return entry


def _entry(record: AuditRecord, now: datetime) -> AuditEntry:
    return AuditEntry(
        at=now,
        actor_kind=record.actor.kind,
        actor_id=_clip(record.actor.id, 64),
        actor_name=_clip(record.actor.name, 200) or "",
        action=_clip(record.action, 100) or "",
        outcome=_clip(record.outcome, 200) or "",
        targets=list(record.targets)[:50],
        summary=record.summary,
        client_address=_clip(record.client_address, 64),
        user_agent=_clip(record.user_agent, 300),
    )


@dataclass
class Armed:
    """An entry waiting for the write it describes: `record` has the outcome "ok" and the
    targets named by the input; `entry` is set once a transaction added it."""

    record: AuditRecord
    entry: AuditEntry | None = None

    @property
    def committed(self) -> bool:
        """Whether the entry was added and its transaction committed (a rollback makes an
        object added in it transient again)."""
        return self.entry is not None and inspect(self.entry).has_identity


_armed: ContextVar[Armed | None] = ContextVar("trouw_audit_armed", default=None)


@contextmanager
def armed(record: AuditRecord) -> Iterator[Armed]:
    """Let a write inside (of this task) record `record` in its own transaction."""
    waiting = Armed(record)
    token = _armed.set(waiting)
    try:
        yield waiting
    finally:
        _armed.reset(token)


def record_armed(session: AsyncSession, targets: list[str], now: datetime) -> None:
    """Add the armed entry, if any and not added yet, with `targets` after the input's, to
    the session's transaction (flushed with the rest of it)."""
    waiting = _armed.get()
    if waiting is None or (waiting.entry is not None and not inspect(waiting.entry).transient):
        return  # not armed, or added already (rolled back, an entry is transient again)
    everything = list(dict.fromkeys([*waiting.record.targets, *targets]))
    waiting.entry = _entry(replace(waiting.record, targets=everything), now)
    session.add(waiting.entry)


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def record(self, record: AuditRecord) -> AuditEntry:
        async with self.db.unit_of_work() as uow:
            entry = await record_in(uow.session, record, self.clock.now())
            await uow.commit()
        return entry

    async def by_ids(self, entry_ids: list[int]) -> dict[int, AuditEntry]:
        async with self.db.unit_of_work(write=False) as uow:
            rows = await uow.session.scalars(select(AuditEntry).where(AuditEntry.id.in_(entry_ids)))
            return {r.id: r for r in rows}

    async def entries(
        self, filters: AuditFilter, limit: int, before_id: int | None = None
    ) -> list[AuditEntry]:
        """Newest first, keyset-paged by id."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        if filters.action:
            query = query.where(AuditEntry.action == filters.action)
        if filters.actor:
            query = query.where(AuditEntry.actor_name == filters.actor)
        if filters.since:
            query = query.where(AuditEntry.at >= filters.since)
        if filters.until:
            query = query.where(AuditEntry.at < filters.until)
        if filters.target:  # "Type:rowid", so no LIKE wildcards; the JSON text holds it quoted
            query = query.where(cast(AuditEntry.targets, String).like(f'%"{filters.target}"%'))
        async with self.db.unit_of_work(write=False) as uow:
            return list(await uow.session.scalars(query))
