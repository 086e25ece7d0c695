"""The composition root: the after-commit reactions run wherever the notification worker runs
(inside `serve` when it runs there, and in `trouw worker`), and stop with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import pytest

from api.running import serving, working
from api.settings import Settings
from api.wiring import open_database
from loyalty.core.clock import FixedClock
from loyalty.core.events import PointsExpiring, Recorded
from loyalty.core.outbox import emit
from loyalty.core.reactions import Reactions
from loyalty.storage.database import Database
from tests.conftest import make_settings


class Heard:
    """An after-commit reaction that records the events it was given."""

    def __init__(self, reactions: Reactions) -> None:
        self.events: list[int] = []
        self.arrived = asyncio.Event()
        reactions.on_commit("test-heard", [PointsExpiring], self.handle)

    async def handle(self, _: Any, item: Recorded[PointsExpiring]) -> None:
        self.events.append(item.id)
        self.arrived.set()


async def _emit(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        emit(uow.session, PointsExpiring(member_id=None, points=5, expires_at=now), now)
        await uow.commit()


def _settings(database_url: str, *, in_serve: bool) -> Settings:
    return make_settings(database_url, worker_in_serve=in_serve, worker_interval_seconds=0.05)


@pytest.fixture
async def wired(clean_database: str) -> AsyncIterator[tuple[Database, Reactions, Heard]]:
    db, reactions = open_database(_settings(clean_database, in_serve=True))
    try:
        yield db, reactions, Heard(reactions)
    finally:
        await db.dispose()


async def _runs_reactions(
    running: AbstractAsyncContextManager[Any], db: Database, heard: Heard
) -> None:
    async with running:
        await _emit(db)
        await asyncio.wait_for(heard.arrived.wait(), 10)
    assert len(heard.events) == 1
    # Stopped with the worker: a later event is not handled.
    await _emit(db)
    await asyncio.sleep(0.3)
    assert len(heard.events) == 1


async def test_serve_runs_the_reactions_with_its_worker(
    wired: tuple[Database, Reactions, Heard], clean_database: str
) -> None:
    db, reactions, heard = wired
    settings = _settings(clean_database, in_serve=True)
    clock = FixedClock(datetime.now(UTC))
    await _runs_reactions(serving(settings, db, reactions, clock), db, heard)


async def test_serve_without_its_worker_leaves_the_reactions_to_trouw_worker(
    wired: tuple[Database, Reactions, Heard], clean_database: str
) -> None:
    db, reactions, heard = wired
    clock = FixedClock(datetime.now(UTC))
    async with serving(_settings(clean_database, in_serve=False), db, reactions, clock):
        await _emit(db)
        await asyncio.sleep(0.3)
        assert heard.events == []
    settings = _settings(clean_database, in_serve=False)
    async with working(settings, db, reactions, clock) as (background, _):
        await asyncio.wait_for(heard.arrived.wait(), 10)
        background.stop.set()
        await background.until_stopped()
    assert len(heard.events) == 1


async def test_trouw_worker_runs_the_reactions(
    wired: tuple[Database, Reactions, Heard], clean_database: str
) -> None:
    db, reactions, heard = wired
    settings = _settings(clean_database, in_serve=False)
    clock = FixedClock(datetime.now(UTC))
    await _runs_reactions(working(settings, db, reactions, clock), db, heard)
