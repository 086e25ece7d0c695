"""The ranking's score: each part moves the way it says, and the order is deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.offers.context import NO_CONTEXT, AppContext
from loyalty.offers.eligibility import Situation, spec_of
from loyalty.offers.history import NO_HISTORY, BuyingHistory
from loyalty.offers.models import Offer
from loyalty.offers.ranking import WEIGHTS, RankingInputs, ranked, score
from loyalty.programme.offers_spec import StoreSpec

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Amsterdam")
DAM = StoreSpec(key="dam", name="Dam", latitude=52.3731, longitude=4.8922)


def _offer(
    offer_id: int,
    created: datetime = NOW - timedelta(days=60),
    valid_until: datetime | None = None,
    **spec: Any,
) -> Offer:
    definition = {"key": f"o{offer_id}", "title": f"Offer {offer_id}", **spec}
    definition.setdefault("kind", "bonus_points")
    if definition["kind"] == "bonus_points":
        definition.setdefault("points", 50)
    row = Offer(id=offer_id, key=definition["key"], definition=definition, created_at=created)
    row.valid_until = valid_until
    return row


def _inputs(
    history: BuyingHistory = NO_HISTORY,
    context: AppContext = NO_CONTEXT,
    activated: frozenset[int] = frozenset(),
) -> RankingInputs:
    where = Situation(NOW, context, {"dam": DAM}, ZONE)
    return RankingInputs(where, history, Decimal(1), activated)


def _parts(offer: Offer, inputs: RankingInputs) -> dict[str, float]:
    return {p.name: p.value for p in score(offer, spec_of(offer), inputs).parts}


def test_parts_add_up_to_the_total_and_stay_within_their_weights() -> None:
    offer = _offer(1, kind="points_multiplier", multiplier="3", categories=["koffie"])
    history = BuyingHistory(4, {"koffie": 0.75, "thee": 0.25}, Decimal("8.50"), 9.0)
    result = score(offer, spec_of(offer), _inputs(history))
    assert abs(result.total - sum(p.value for p in result.parts)) < 1e-9
    for part in result.parts:
        assert 0 <= part.value <= WEIGHTS[part.name]
    # Three times the usual 9 points is 18 extra: 18 / (18 + 100) of the value weight.
    assert _parts(offer, _inputs(history))["value"] == round(0.25 * 18 / 118, 4)


def test_affinity_follows_what_the_member_buys() -> None:
    coffee = _offer(1, categories=["koffie"])
    tea = _offer(2, categories=["thee"])
    anything = _offer(3)
    history = BuyingHistory(10, {"koffie": 0.9, "thee": 0.1}, Decimal(10), 10.0)
    order = [
        o.key
        for _, o in ranked(
            [(score(o, spec_of(o), _inputs(history)), o) for o in (tea, anything, coffee)]
        )
    ]
    assert order == ["o1", "o3", "o2"]
    assert _parts(anything, _inputs(NO_HISTORY))["affinity"] == round(0.3 * 0.5, 4)


def test_urgency_and_novelty_grow_near_the_end_and_the_start() -> None:
    ending = _offer(1, valid_until=NOW + timedelta(days=1))
    later = _offer(2, valid_until=NOW + timedelta(days=30))
    fresh = _offer(3, created=NOW - timedelta(days=1))
    assert _parts(ending, _inputs())["urgency"] > 0.12 and _parts(later, _inputs())["urgency"] == 0
    assert _parts(fresh, _inputs())["novelty"] > 0.09
    assert _parts(fresh, _inputs(activated=frozenset({3})))["novelty"] == 0


def test_context_fit_rewards_being_close_to_the_store() -> None:
    near_store = _offer(1, context={"stores": ["dam"], "radius_m": 1000})
    at_dam = AppContext(latitude=52.3731, longitude=4.8922)
    a_little_off = AppContext(latitude=52.3771, longitude=4.8922)  # ~445 m north
    close = _parts(near_store, _inputs(context=at_dam))["context"]
    further = _parts(near_store, _inputs(context=a_little_off))["context"]
    assert close == WEIGHTS["context"] and 0 < further < close
    assert _parts(_offer(2), _inputs(context=at_dam))["context"] == 0


def test_equal_scores_keep_the_id_order_whatever_order_they_come_in() -> None:
    twins = [_offer(i) for i in (5, 2, 9, 1)]
    inputs = _inputs()
    forward = ranked([(score(o, spec_of(o), inputs), o) for o in twins])
    backward = ranked([(score(o, spec_of(o), inputs), o) for o in reversed(twins)])
    assert [o.id for _, o in forward] == [o.id for _, o in backward] == [1, 2, 5, 9]
