"""Reactions: how one area responds to another's events without either editing the other.

Two kinds, registered per event type by each area's `reactions.register` and collected in
the composition root (`api/wiring.py`):

- In-transaction reactions run inside the unit of work that emitted the event, just before
  it commits (the unit of work calls `Reactions.run_in_transaction`). What they change
  commits or rolls back with the change that caused it, so they run exactly once per event.
  They may emit events of their own, which are handled in the same round. A handler may
  take a run of events at once (`in_transaction_many`), so that a unit of work that emits
  many events of a type (an import's sign-ups) costs it a few statements, not a few per event.
- After-commit reactions run later, fed from the outbox by `ReactionRunner` (in the worker),
  in a transaction of their own per event. A receipt (reaction, event id) is written in that
  same transaction, so what a reaction writes to the database happens once per event even
  when a process dies half-way; side effects outside the database happen at least once and
  carry the event id so that the receiver can drop duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core import cursors
from loyalty.core.clock import Clock
from loyalty.core.events import Event, Recorded
from loyalty.core.models import OutboxEvent, ReactionReceipt
from loyalty.core.outbox import recorded, take_emitted
from loyalty.core.request_ids import bound_request_id
from loyalty.storage.database import Database, insert_for

log = logging.getLogger("trouw.reactions")
E = TypeVar("E", bound=Event)

InTransaction = Callable[[AsyncSession, Any, datetime], Awaitable[None]]
InTransactionMany = Callable[[AsyncSession, Sequence[tuple[Any, datetime]]], Awaitable[None]]
AfterCommit = Callable[[AsyncSession, Recorded[Any]], Awaitable[None]]
# Reactions that emit events which trigger reactions again are bounded: a loop is a bug.
MAX_ROUNDS = 100


@dataclass(frozen=True)
class AfterCommitReaction:
    name: str
    event_types: tuple[type[Event], ...]
    handler: AfterCommit

    @property
    def topics(self) -> list[str]:
        return [t.name for t in self.event_types]


@dataclass(frozen=True)
class _Handler:
    """A handler of one event at a time, or of a run of events (`in_transaction_many`)."""

    one: InTransaction | None = None
    many: InTransactionMany | None = None

    @property
    def handler(self) -> Callable[..., Awaitable[None]]:
        found = self.many or self.one
        assert found is not None
        return found

    async def each(self, s: AsyncSession, run: list[tuple[Event, datetime]]) -> None:
        if self.many is not None:
            await self.many(s, run)
            return
        assert self.one is not None
        for event, at in run:
            await self.one(s, event, at)


class Reactions:
    """The registry: what runs when an event of a given type is emitted."""

    def __init__(self) -> None:
        self._in_transaction: dict[type[Event], list[_Handler]] = defaultdict(list)
        self.after_commit: list[AfterCommitReaction] = []

    def in_transaction(
        self, event_type: type[E], handler: Callable[[AsyncSession, E, datetime], Awaitable[None]]
    ) -> None:
        self._in_transaction[event_type].append(_Handler(one=handler))

    def in_transaction_many(
        self,
        event_type: type[E],
        handler: Callable[[AsyncSession, Sequence[tuple[E, datetime]]], Awaitable[None]],
    ) -> None:
        """`handler` takes consecutive events of the type at once, oldest first; it must leave
        the same effects as handling them one by one in that order."""
        self._in_transaction[event_type].append(_Handler(many=handler))

    def handlers_of(self, event_type: type[Event]) -> list[Callable[..., Awaitable[None]]]:
        """The in-transaction handlers of an event type, in the order they run."""
        return [h.handler for h in self._in_transaction.get(event_type, ())]

    def on_commit(
        self,
        name: str,
        event_types: Sequence[type[E]],
        handler: Callable[[AsyncSession, Recorded[E]], Awaitable[None]],
    ) -> None:
        """`name` identifies the reaction in its receipts: keep it once it has run."""
        if any(r.name == name for r in self.after_commit):
            raise ValueError(f"a reaction called {name!r} is registered already")
        self.after_commit.append(AfterCommitReaction(name, tuple(event_types), handler))

    async def run_in_transaction(self, s: AsyncSession) -> None:
        """Handle every event emitted in `s` so far, and those the handlers emit."""
        for _ in range(MAX_ROUNDS):
            emitted = take_emitted(s)
            if not emitted:
                return
            for run in _runs(emitted):
                await self._handle_run(s, run)
        raise RuntimeError("in-transaction reactions keep emitting events: a loop")

    async def _handle_run(self, s: AsyncSession, run: list[tuple[Event, datetime]]) -> None:
        """Events of one type: each event through every handler in turn, or, when a handler
        takes runs, each handler through the whole run in turn."""
        handlers = self._in_transaction.get(type(run[0][0]), [])
        if any(h.many for h in handlers):
            for handler in handlers:
                await handler.each(s, run)
            return
        for item in run:
            for handler in handlers:
                await handler.each(s, [item])


def _runs(emitted: list[tuple[Event, datetime]]) -> list[list[tuple[Event, datetime]]]:
    """The events in order, cut into runs of consecutive events of one type."""
    runs: list[list[tuple[Event, datetime]]] = []
    for item in emitted:
        if runs and type(runs[-1][0][0]) is type(item[0]):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


class ReactionRunner:
    """Feeds after-commit reactions from the outbox; safe in any number of processes."""

    def __init__(self, db: Database, reactions: Reactions, clock: Clock, batch: int = 100):
        self.db = db
        self.reactions = reactions
        self.clock = clock
        self.batch = batch

    async def run_once(self) -> int:
        """One batch per reaction. Returns how many events were handled (0: idle)."""
        done = 0
        for reaction in self.reactions.after_commit:
            done += await self._run(reaction)
        return done

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("reaction round failed")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    async def _run(self, reaction: AfterCommitReaction) -> int:
        cursor = f"reaction:{reaction.name}"
        async with self.db.unit_of_work(write=False) as uow:
            position = await cursors.position_of(uow.session, cursor)
            ids = list(
                await uow.session.scalars(
                    _pending(reaction, position).order_by(OutboxEvent.id).limit(self.batch)
                )
            )
        handled = 0
        for event_id in ids:
            handled += await self._handle(reaction, event_id)
        await self._advance(reaction, cursor)
        return handled

    async def _handle(self, reaction: AfterCommitReaction, event_id: int) -> int:
        try:
            async with self.db.unit_of_work() as uow:
                s = uow.session
                now = self.clock.now()
                claimed = await s.execute(
                    insert_for(s)(ReactionReceipt)
                    .values(reaction=reaction.name, event_id=event_id, done_at=now)
                    .on_conflict_do_nothing()
                )
                if not claimed.rowcount:  # type: ignore[attr-defined]
                    return 0  # another process did it
                row = await s.get(OutboxEvent, event_id)
                if row is not None:
                    # What the reaction emits carries the request id of what caused it.
                    with bound_request_id(row.request_id):
                        await reaction.handler(s, recorded(row))
                await uow.commit()
        except Exception:
            # Tried again next round; the receipt was rolled back with the rest.
            log.exception("reaction %s failed for event %s", reaction.name, event_id)
            return 0
        return 1

    async def _advance(self, reaction: AfterCommitReaction, cursor: str) -> None:
        async with self.db.unit_of_work() as uow:
            s = uow.session
            now = self.clock.now()
            position = await cursors.position_of(s, cursor)
            final = await s.scalar(
                select(func.max(OutboxEvent.id)).where(
                    OutboxEvent.id > position,
                    OutboxEvent.published_at <= now - cursors.CURSOR_SAFETY,
                )
            )
            if final is None:
                return
            first = _pending(reaction, position).where(OutboxEvent.id <= final)
            await cursors.advance(
                s, cursor, position, final, first.with_only_columns(func.min(OutboxEvent.id)), now
            )
            await uow.commit()


def _pending(reaction: AfterCommitReaction, position: int) -> Any:
    return select(OutboxEvent.id).where(
        OutboxEvent.id > position,
        OutboxEvent.topic.in_(reaction.topics),
        ~exists().where(
            ReactionReceipt.reaction == reaction.name, ReactionReceipt.event_id == OutboxEvent.id
        ),
    )
