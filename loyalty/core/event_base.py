"""The base of every domain event: a typed, frozen payload with its topic and version.

`loyalty.core.events` lists every event type; the types themselves live in the `events_*`
modules beside it, grouped by what they report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from loyalty.core.event_codec import MISSING, codec


class UnknownEvent(ValueError):
    """An outbox row whose topic or version no event type here reads."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event. Subclasses set `name` (the topic) and `description`."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str]

    member_id: int | None

    def to_payload(self) -> dict[str, Any]:
        return {c.wire: c.encode(getattr(self, c.name)) for c in codec(type(self))}

    @classmethod
    def from_payload(
        cls: type[E], member_id: int | None, payload: Mapping[str, Any], version: int = 1
    ) -> E:
        if version != cls.version:
            payload = cls.migrate(payload, version)
        values: dict[str, Any] = {"member_id": member_id}
        for c in codec(cls):
            value = payload.get(c.wire, MISSING)
            if value is MISSING:
                if c.required:
                    raise UnknownEvent(f"{cls.name} v{version}: {c.wire!r} is missing")
            else:
                values[c.name] = None if value is None else c.decode(value)
        return cls(**values)

    @classmethod
    def migrate(cls, payload: Mapping[str, Any], version: int) -> Mapping[str, Any]:
        """Bring an older version's payload up to this one (none exist yet)."""
        raise UnknownEvent(f"{cls.name} has no version {version}")


E = TypeVar("E", bound=Event)


# Name on the wire for fields whose Python name cannot be the payload key.
def wire(name: str, **kwargs: Any) -> Any:
    return field(metadata={"wire": name}, **kwargs)


@dataclass(frozen=True)
class Recorded(Generic[E]):
    """An event as the outbox holds it: with its id (the cursor clients resume from) and the
    time of the change."""

    id: int
    occurred_at: datetime
    event: E
    # The HTTP request the change came from, if any (`loyalty.core.request_ids`).
    request_id: str | None = None
