"""Fixtures of the API tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from tests.support.server import ServerHandle


@pytest.fixture
def statements(server: ServerHandle) -> Iterator[list[str]]:
    """Every SQL statement the shared server sends for requests, while the test runs."""
    engine = server.server.config.app.state.services.db.engine.sync_engine
    sent: list[str] = []
    lock = threading.Lock()

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The server's own loops (the relay polls the outbox) are not the request's doing.
        task = asyncio.current_task()
        if task is not None and task.get_name().startswith("trouw-"):
            return
        with lock:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
