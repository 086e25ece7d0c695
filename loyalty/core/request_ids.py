"""The request id: which HTTP request a change came from, so that its log lines, its outbox
event and each delivery of that event can be told apart and joined up.

The API binds it for the duration of a request (`api/core/request_ids.py`); `emit` writes it
into the outbox row; the relay, the reactions and the notification worker bind it again for
the work they do on that event, so their log lines (and the events a reaction emits) carry it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# What an incoming X-Request-Id may be to be kept (a UUID, a hex or base64url token, a
# tracing system's id); anything else is replaced by one of ours.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=-]{0,127}")
MAX_LENGTH = 128

_CURRENT: ContextVar[str | None] = ContextVar("trouw_request_id", default=None)


def current_request_id() -> str | None:
    return _CURRENT.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted(candidate: str | None) -> str | None:
    """The candidate if it is a well-formed request id, else None."""
    if candidate is None or not WELL_FORMED.fullmatch(candidate):
        return None
    return candidate


@contextmanager
def bound_request_id(request_id: str | None) -> Iterator[None]:
    """Make `request_id` the current one inside the block (None: none is)."""
    token = _CURRENT.set(request_id)
    try:
        yield
    finally:
        _CURRENT.reset(token)
