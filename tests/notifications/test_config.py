"""Webhook endpoints from the settings: which events they select, and the reasons bad settings
are refused with."""

from __future__ import annotations

import pytest

from loyalty.core.events import (
    EVENT_TYPES,
    BalanceChanged,
    MemberSignedUp,
    RewardCancelled,
    RewardRedeemed,
    TierChanged,
)
from notifications.config import parse_webhooks

SECRET = "whsec_0123456789abcdef0123"


def test_patterns_select_events_by_name_prefix_or_all() -> None:
    [everything, rewards, two] = parse_webhooks(
        [
            {"url": "https://a.example/hooks", "secret": SECRET},
            {"url": "https://b.example/hooks", "secret": SECRET, "events": ["reward.*"]},
            {
                "url": "https://c.example/hooks",
                "secret": SECRET,
                "events": "balance.changed, tier.changed",
            },
        ]
    )
    assert everything.events == ("*",)
    assert all(everything.wants(t) for t in EVENT_TYPES)
    assert rewards.wants(RewardRedeemed) and rewards.wants(RewardCancelled)
    assert not rewards.wants(BalanceChanged)
    assert two.events == ("balance.changed", "tier.changed")
    assert two.wants(BalanceChanged) and two.wants(TierChanged)
    assert not two.wants(MemberSignedUp)


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        (["balance.change"], "no event is called 'balance.change'; give one of balance.changed"),
        (["rewards.*"], "no event's name starts with 'rewards.'"),
        ([".*"], "no event's name starts with '.'"),
        (["balance"], "no event is called 'balance'"),
        ([7], "7 is not a text"),
        ([], "subscribes to no events"),
    ],
)
def test_unknown_events_are_refused_with_the_reason(events: list[object], reason: str) -> None:
    item = {"url": "https://a.example/hooks", "secret": SECRET, "events": events}
    with pytest.raises(ValueError) as refused:
        parse_webhooks([item])
    assert "webhook https://a.example/hooks" in str(refused.value)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"url": "https://a.example/hooks", "secret": SECRET, "topics": ["*"]}, "unknown"),
        ({"url": "https://a.example/hooks"}, "needs secret"),
        ({"secret": SECRET}, "needs url"),
        ({"url": "ftp://a.example/hooks", "secret": SECRET}, "http(s)"),
        ({"url": "https://a.example/hooks", "secret": "short"}, "16 characters"),
    ],
)
def test_other_bad_settings_are_refused_with_the_reason(
    item: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueError) as refused:
        parse_webhooks([item])
    assert reason in str(refused.value)


def test_each_url_once() -> None:
    item = {"url": "https://a.example/hooks", "secret": SECRET}
    with pytest.raises(ValueError, match="once"):
        parse_webhooks([item, item])
