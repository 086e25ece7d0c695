"""What the worker hands to a delivery channel, and what comes back.

`PushSender` is implemented by the APNs and FCM clients (`notifications.apns`,
`notifications.fcm`); the worker only calls `send()` and acts on the `PushResult`:
"delivered" ends the delivery, "retry" tries again later with backoff (and dead-letters it
after the maximum attempts), "gone" removes the device and ends the delivery without retry.
A "retry" whose detail starts with "permanent:" (a fault in our configuration or message, not
in the device) is dead-lettered at once: trying the same again cannot help.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class PushMessage:
    title: str | None
    body: str | None
    # String values only: both APNs (custom keys) and FCM (`data`) carry them as is.
    data: dict[str, str]
    # The outbox event this push tells about; the app deduplicates on it (delivery is at
    # least once, so the same event may arrive twice).
    event_id: int
    # Pushes with the same key replace each other on the device (apns-collapse-id /
    # FCM collapse_key).
    collapse_key: str | None = None


@dataclass(frozen=True)
class PushResult:
    status: Literal["delivered", "retry", "gone"]
    detail: str = ""


class PushSender(Protocol):
    platform: str  # "ios" or "android"

    async def send(self, token: str, message: PushMessage) -> PushResult: ...


DeliveryStatus = Literal["delivered", "retry", "failed", "dead", "deferred"]


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt to deliver one delivery row.

    - delivered: done.
    - retry: a transient failure; try again after a backoff (dead after the last attempt).
    - failed: will not be delivered, and retrying would not help (device gone, no consent,
      contact pressure, endpoint removed); `detail` says why.
    - dead: a permanent failure at the receiver (e.g. a webhook answering 4xx); kept for an
      operator to look at.
    - deferred: not now, not a failure (quiet hours): try again at `until`, without counting
      this as an attempt.
    """

    status: DeliveryStatus
    detail: str = ""
    until: datetime | None = None
    # Set on "failed" results from push: the device's token is gone and the device must go.
    remove_device: bool = field(default=False)

    @classmethod
    def ok(cls, detail: str = "") -> Delivery:
        return cls("delivered", detail)

    @classmethod
    def retry(cls, detail: str) -> Delivery:
        return cls("retry", detail)

    @classmethod
    def failed(cls, detail: str, *, remove_device: bool = False) -> Delivery:
        return cls("failed", detail, remove_device=remove_device)

    @classmethod
    def dead(cls, detail: str) -> Delivery:
        return cls("dead", detail)

    @classmethod
    def deferred(cls, until: datetime, detail: str = "") -> Delivery:
        return cls("deferred", detail, until=until)


# What the member reads: one text per topic, in Dutch or English (the member's locale, else
# the programme's default). The push and the inbox message about an event say the same.

_MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "nl": ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
}


@dataclass(frozen=True)
class EventFacts:
    """What the texts need besides the event: the reader's language and programme facts."""

    language: str  # "nl" or "en"
    zone: ZoneInfo
    tier_names: Mapping[str, str] = field(default_factory=dict)
    tier_order: Sequence[str] = ()
    reward_names: Mapping[str, str] = field(default_factory=dict)
    # For balance.changed: when the ledger entry was written and when its points may be spent.
    entry_recorded_at: datetime | None = None
    entry_available_at: datetime | None = None


@dataclass(frozen=True)
class Text:
    title: str
    body: str
    collapse_key: str | None = None


def language_of(locale: str | None, default: str) -> str:
    tag = (locale or default or "en").lower()
    return "nl" if tag.startswith("nl") else "en"


def _points(n: int, language: str) -> str:
    if language == "nl":
        return f"{n} punt" if n == 1 else f"{n} punten"
    return f"{n} point" if n == 1 else f"{n} points"


def _date(at: datetime, facts: EventFacts) -> str:
    day = at.astimezone(facts.zone).date()
    return f"{day.day} {_MONTHS[facts.language][day.month - 1]} {day.year}"


def _balance_text(
    payload: Mapping[str, Any], occurred_at: datetime, facts: EventFacts
) -> Text | None:
    nl = facts.language == "nl"
    kind = payload.get("kind")
    points = int(payload.get("points") or 0)
    n = _points(abs(points), facts.language)
    available = int(payload.get("available") or 0)
    balance = (
        f"Je saldo is nu {_points(available, 'nl')}."
        if nl
        else f"Your balance is now {_points(available, 'en')}."
    )
    if kind in ("earn", "bonus") and points > 0:
        recorded, spendable = facts.entry_recorded_at, facts.entry_available_at
        if recorded is not None and occurred_at > recorded:
            # The event of the release job: the pending points became spendable.
            title = f"{n} nu te besteden" if nl else f"{n} ready to spend"
            return Text(title, balance, "balance")
        title = f"Je hebt {n} gespaard" if nl else f"You earned {n}"
        if spendable is not None and spendable > occurred_at:
            when = _date(spendable, facts)
            body = f"Te besteden vanaf {when}." if nl else f"You can spend them from {when}."
            return Text(title, body, "balance")
        return Text(title, balance, "balance")
    if kind == "refund" and points > 0:
        return Text(f"{n} teruggestort" if nl else f"{n} returned", balance, "balance")
    if kind == "expire":
        return Text(f"{n} vervallen" if nl else f"{n} expired", balance, "balance")
    if kind == "reverse":
        title = f"{n} afgeschreven na een retour" if nl else f"{n} deducted after a return"
        return Text(title, balance, "balance")
    if points > 0:
        return Text(f"{n} bijgeschreven" if nl else f"{n} added", balance, "balance")
    if points < 0:
        return Text(f"{n} afgeschreven" if nl else f"{n} deducted", balance, "balance")
    return None


def text_for(
    topic: str, payload: Mapping[str, Any], occurred_at: datetime, facts: EventFacts
) -> Text | None:
    """What a push or inbox message about this event says; None: nothing to say."""
    nl = facts.language == "nl"
    if topic == "balance.changed":
        return _balance_text(payload, occurred_at, facts)
    if topic == "reward.redeemed":
        key = str(payload.get("reward_key") or "")
        name = facts.reward_names.get(key) or ("Je beloning" if nl else "Your reward")
        title = "Je beloning staat klaar" if nl else "Your reward is ready"
        body = (
            f"{name}: laat de code zien aan de kassa."
            if nl
            else f"{name}: show the code at the till."
        )
        return Text(title, body)
    if topic == "points.expiring":
        n = _points(int(payload.get("points") or 0), facts.language)
        try:
            expires = datetime.fromisoformat(str(payload["expires_at"]))
        except (KeyError, ValueError):
            return None
        # Points expire at the end of a day: name that day, not the next one's midnight.
        when = _date(expires - timedelta(seconds=1), facts)
        title = f"{n} vervallen op {when}" if nl else f"{n} expire on {when}"
        body = (
            "Gebruik ze voor die tijd, anders zijn ze weg."
            if nl
            else "Use them before then, or they are gone."
        )
        return Text(title, body, "expiring")
    if topic == "tier.changed":
        old, new = str(payload.get("from") or ""), str(payload.get("to") or "")
        name = facts.tier_names.get(new, new)
        order = list(facts.tier_order)
        up = new in order and (old not in order or order.index(new) > order.index(old))
        if up:
            title = f"Welkom in {name}" if nl else f"Welcome to {name}"
            body = f"Je hebt het niveau {name} bereikt." if nl else f"You reached {name}."
        else:
            title = f"Je niveau is nu {name}" if nl else f"Your tier is now {name}"
            body = "Spaar weer punten om hoger te komen." if nl else "Earn points to move up again."
        return Text(title, body, "tier")
    return None


def push_data(event_id: int, topic: str, payload: Mapping[str, Any]) -> dict[str, str]:
    """The custom data of a push: the event id (for deduplication) and a few ids the app can
    open, as strings. Payload keys are not copied blindly: FCM reserves some (e.g. "from")."""
    data = {"event_id": str(event_id), "type": topic}
    for key in ("entry_id", "redemption_id", "reward_id", "available", "expires_at"):
        if payload.get(key) is not None:
            data[key] = str(payload[key])
    if topic == "tier.changed" and payload.get("to"):
        data["tier"] = str(payload["to"])
    return data
