"""What the member reads: one text per kind of event, in Dutch or English (the member's locale,
else the programme's default). The push and the inbox message about an event say the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from loyalty.core.events import (
    BalanceChanged,
    CampaignMessage,
    Event,
    PointsExpiring,
    Recorded,
    RewardRedeemed,
    TierChanged,
)

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
    # For BalanceChanged: when the ledger entry was written and when its points may be spent.
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


def _earned_text(event: BalanceChanged, occurred_at: datetime, facts: EventFacts) -> Text:
    nl = facts.language == "nl"
    n = _points(event.points, facts.language)
    balance = _balance(event, facts)
    recorded, spendable = facts.entry_recorded_at, facts.entry_available_at
    if recorded is not None and occurred_at > recorded:
        # The event of the release job: the pending points became spendable.
        return Text(f"{n} nu te besteden" if nl else f"{n} ready to spend", balance, "balance")
    title = f"Je hebt {n} gespaard" if nl else f"You earned {n}"
    if spendable is not None and spendable > occurred_at:
        when = _date(spendable, facts)
        body = f"Te besteden vanaf {when}." if nl else f"You can spend them from {when}."
        return Text(title, body, "balance")
    return Text(title, balance, "balance")


def _balance(event: BalanceChanged, facts: EventFacts) -> str:
    if facts.language == "nl":
        return f"Je saldo is nu {_points(event.available, 'nl')}."
    return f"Your balance is now {_points(event.available, 'en')}."


def _balance_text(event: BalanceChanged, occurred_at: datetime, facts: EventFacts) -> Text | None:
    nl = facts.language == "nl"
    kind, points = event.kind, event.points
    n = _points(abs(points), facts.language)
    balance = _balance(event, facts)
    if kind in ("earn", "bonus") and points > 0:
        return _earned_text(event, occurred_at, facts)
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


def _reward_text(event: RewardRedeemed, facts: EventFacts) -> Text:
    nl = facts.language == "nl"
    name = facts.reward_names.get(event.reward_key) or ("Je beloning" if nl else "Your reward")
    title = "Je beloning staat klaar" if nl else "Your reward is ready"
    body = (
        f"{name}: laat de code zien aan de kassa." if nl else f"{name}: show the code at the till."
    )
    return Text(title, body)


def _expiring_text(event: PointsExpiring, facts: EventFacts) -> Text:
    nl = facts.language == "nl"
    n = _points(event.points, facts.language)
    # Points expire at the end of a day: name that day, not the next one's midnight.
    when = _date(event.expires_at - timedelta(seconds=1), facts)
    title = f"{n} vervallen op {when}" if nl else f"{n} expire on {when}"
    body = (
        "Gebruik ze voor die tijd, anders zijn ze weg."
        if nl
        else "Use them before then, or they are gone."
    )
    return Text(title, body, "expiring")


def _tier_text(event: TierChanged, facts: EventFacts) -> Text:
    nl = facts.language == "nl"
    old, new = event.from_tier, event.to_tier
    name = facts.tier_names.get(new, new)
    order = list(facts.tier_order)
    if new in order and (old not in order or order.index(new) > order.index(old)):
        title = f"Welkom in {name}" if nl else f"Welcome to {name}"
        body = f"Je hebt het niveau {name} bereikt." if nl else f"You reached {name}."
    else:
        title = f"Je niveau is nu {name}" if nl else f"Your tier is now {name}"
        body = "Spaar weer punten om hoger te komen." if nl else "Earn points to move up again."
    return Text(title, body, "tier")


def text_for(recorded: Recorded[Event], facts: EventFacts) -> Text | None:
    """What a push or inbox message about this event says; None: nothing to say."""
    match recorded.event:
        case BalanceChanged() as event:
            return _balance_text(event, recorded.occurred_at, facts)
        case RewardRedeemed() as event:
            return _reward_text(event, facts)
        case PointsExpiring() as event:
            return _expiring_text(event, facts)
        case TierChanged() as event:
            return _tier_text(event, facts)
        case CampaignMessage() as event:
            return Text(event.title, event.body, f"campaign:{event.campaign_key}")
        case _:
            return None


def push_data(recorded: Recorded[Event]) -> dict[str, str]:
    """The custom data of a push: the event id (for deduplication), its type and a few ids the
    app can open, as strings. Payloads are not copied blindly: FCM reserves some keys (e.g.
    "from", which a tier change's payload has)."""
    event = recorded.event
    facts: dict[str, int | datetime | str | None] = {}
    match event:
        case BalanceChanged():
            facts = {
                "entry_id": event.entry_id,
                "available": event.available,
                "expires_at": event.expires_at,
            }
        case RewardRedeemed():
            facts = {
                "redemption_id": event.redemption_id,
                "reward_id": event.reward_id,
                "expires_at": event.expires_at,
            }
        case PointsExpiring():
            facts = {"expires_at": event.expires_at}
        case TierChanged():
            facts = {"tier": event.to_tier or None}
    data = {"event_id": str(recorded.id), "type": event.name}
    for key, value in facts.items():
        if value is not None:
            data[key] = value.isoformat() if isinstance(value, datetime) else str(value)
    return data
