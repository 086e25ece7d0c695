"""How notifications are delivered: webhook endpoints, retries, leases. Quiet hours and the
caps on marketing contacts are the one contact budget's (`loyalty.messaging.budget`).

Plain dataclasses, built by the composition root from the settings (`TROUW_*`); nothing here
reads the environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from loyalty.core.events import EVENT_TYPES, Event
from loyalty.core.opaque_ids import OpaqueIds


def _matches(pattern: str, name: str) -> bool:
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return pattern in ("*", name)


def check_pattern(pattern: object) -> str | None:
    """Why `pattern` cannot select events (None when it can): it must name an event, be "*",
    or be "<prefix>.*" for a prefix that some event's name starts with."""
    if not isinstance(pattern, str):
        return f"{pattern!r} is not a text"
    if any(_matches(pattern, t.name) for t in EVENT_TYPES):
        return None
    known = ", ".join(t.name for t in EVENT_TYPES)
    if pattern.endswith(".*"):
        return f"no event's name starts with {pattern[:-1]!r} (the events: {known})"
    return f'no event is called {pattern!r}; give one of {known}, "*" or "<prefix>.*"'


@dataclass(frozen=True)
class WebhookEndpoint:
    """A URL of the brand's systems that receives the events it subscribes to.

    `events` lists event names (e.g. "balance.changed", `loyalty.core.events`); "*"
    subscribes to every event, and "reward.*" to every event whose name starts with "reward.".
    """

    url: str
    secret: str
    events: tuple[str, ...] = ("*",)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"webhook URL must be http(s)://host/…, not {self.url!r}")
        if len(self.url) > 1024:
            raise ValueError("webhook URL longer than 1024 characters")
        if len(self.secret) < 16:
            raise ValueError(f"the secret of webhook {self.url} needs at least 16 characters")
        if not self.events:
            raise ValueError(f"webhook {self.url} subscribes to no events")
        for pattern in self.events:
            reason = check_pattern(pattern)
            if reason is not None:
                raise ValueError(f"webhook {self.url}: {reason}")

    def wants(self, event_type: type[Event]) -> bool:
        return any(_matches(pattern, event_type.name) for pattern in self.events)


def parse_webhooks(items: Iterable[Mapping[str, Any]]) -> tuple[WebhookEndpoint, ...]:
    """Endpoints from settings, e.g. TROUW_WEBHOOKS='[{"url": "https://crm.example/hooks",
    "secret": "…", "events": ["balance.changed", "tier.changed"]}]'."""
    endpoints: list[WebhookEndpoint] = []
    for item in items:
        unknown = set(item) - {"url", "secret", "events"}
        if unknown:
            raise ValueError(f"unknown webhook setting(s): {', '.join(sorted(unknown))}")
        missing = {"url", "secret"} - set(item)
        if missing:
            raise ValueError(f"a webhook needs {' and '.join(sorted(missing, reverse=True))}")
        events = item.get("events", ["*"])
        if isinstance(events, str):
            events = [e.strip() for e in events.split(",") if e.strip()]
        endpoints.append(
            WebhookEndpoint(url=str(item["url"]), secret=str(item["secret"]), events=tuple(events))
        )
    urls = [e.url for e in endpoints]
    if len(set(urls)) != len(urls):
        raise ValueError("each webhook URL may be configured once")
    return tuple(endpoints)


@dataclass(frozen=True)
class Retry:
    """Exponential backoff with jitter: attempt n waits about base·2^(n-1), at most `cap`;
    after `max_attempts` failed attempts the delivery is dead."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 8


@dataclass(frozen=True)
class NotificationConfig:
    # Seals member ids in webhook bodies as the API shows them (the installation's id key).
    ids: OpaqueIds
    webhooks: Sequence[WebhookEndpoint] = ()
    push_enabled: bool = True
    retry: Retry = field(default_factory=Retry)
    webhook_timeout: float = 10.0
    # A push about an event older than this is no longer news: it is dropped, not sent.
    push_ttl: timedelta = timedelta(days=1)
    # How long a claimed delivery is reserved for the worker that claimed it; a worker that
    # dies mid-delivery leaves it to be taken again after this. Must exceed any send timeout.
    lease: timedelta = timedelta(seconds=60)
    batch_size: int = 100
    # Deliveries sent at the same time by one worker.
    concurrency: int = 16

    def __post_init__(self) -> None:
        if self.lease.total_seconds() <= self.webhook_timeout:
            raise ValueError("the delivery lease must be longer than the webhook timeout")
        if self.batch_size < 1 or self.concurrency < 1:
            raise ValueError("batch size and concurrency must be positive")
