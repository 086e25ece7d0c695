"""The order of a member's offers: best first, by a score that can be explained.

Each part is a number between 0 and 1 times its weight, so the parts add up to the total and
an admin can read why one offer comes before another:

- affinity: how much of what the member spends goes to the offer's categories (an offer for
  every category counts as half a fit);
- value: what the offer is worth to this member in points (a multiplier on their usual
  purchase, a discount on their usual basket at the programme's earning rate), flattened so
  that doubling a large value adds less than doubling a small one;
- urgency: how close the offer is to its end, within its last week;
- novelty: how new the offer is, within its first two weeks, for a member who has not taken it;
- context: how well the offer fits where and when the member is (only offers that ask for a
  place, a time or a weather score here; nearer stores score higher).

The score is a pure function of its inputs; equal totals are ordered by offer id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from loyalty.offers.eligibility import Situation, nearest_store_m
from loyalty.offers.history import BuyingHistory
from loyalty.offers.models import Offer
from loyalty.programme.offers_spec import OfferContext, OfferSpec

WEIGHTS = {"affinity": 0.30, "value": 0.25, "urgency": 0.15, "novelty": 0.10, "context": 0.20}
# A value of this many points scores half of the value part.
VALUE_HALF_POINTS = 100.0
URGENT_WITHIN = timedelta(days=7)
NEW_WITHIN = timedelta(days=14)
# An offer with no category is for everything: half a fit for every member.
NEUTRAL_AFFINITY = 0.5
# What a free item is worth when its price is not known, as a share of the member's basket.
FREE_ITEM_SHARE = Decimal("0.2")
DEFAULT_POINTS_PER_PURCHASE = 10.0


@dataclass(frozen=True)
class ScorePart:
    name: str
    value: float  # already weighted: the parts add up to the total


@dataclass(frozen=True)
class Score:
    total: float
    parts: tuple[ScorePart, ...]


@dataclass(frozen=True)
class RankingInputs:
    """What the score reads besides the offer: now and where, the member's buying, and the
    programme's earning rate (points per unit of currency)."""

    where: Situation
    history: BuyingHistory
    points_per_unit: Decimal
    activated: frozenset[int]


def score(offer: Offer, spec: OfferSpec, inputs: RankingInputs) -> Score:
    raw = {
        "affinity": _affinity(spec, inputs.history),
        "value": _value(spec, inputs),
        "urgency": _urgency(offer, inputs.where.now),
        "novelty": 0.0 if offer.id in inputs.activated else _novelty(offer, inputs.where.now),
        "context": _context_fit(spec.context, inputs.where),
    }
    parts = tuple(
        ScorePart(name, round(WEIGHTS[name] * min(1.0, max(0.0, value)), 4))
        for name, value in raw.items()
    )
    return Score(round(sum(p.value for p in parts), 4), parts)


def ranked(scored: Sequence[tuple[Score, Offer]]) -> list[tuple[Score, Offer]]:
    """Best first; equal totals by offer id, so the same inputs always give the same order."""
    return sorted(scored, key=lambda pair: (-pair[0].total, pair[1].id))


def _affinity(spec: OfferSpec, history: BuyingHistory) -> float:
    if not spec.categories:
        return NEUTRAL_AFFINITY
    return sum(history.category_share.get(name, 0.0) for name in set(spec.categories))


def _points_worth(spec: OfferSpec, inputs: RankingInputs) -> float:
    history, rate = inputs.history, inputs.points_per_unit
    usual_points = history.average_points or DEFAULT_POINTS_PER_PURCHASE
    if spec.kind == "bonus_points":
        return float(spec.points or 0)
    if spec.kind == "points_multiplier":
        return float((spec.multiplier or Decimal(1)) - 1) * usual_points
    if spec.kind == "percent_off":
        return float((spec.percent or Decimal(0)) / 100 * history.average_basket * rate)
    if spec.kind == "amount_off":
        return float((spec.amount or Decimal(0)) * rate)
    return float(FREE_ITEM_SHARE * history.average_basket * rate)


def _value(spec: OfferSpec, inputs: RankingInputs) -> float:
    worth = max(0.0, _points_worth(spec, inputs))
    return worth / (worth + VALUE_HALF_POINTS)


def _urgency(offer: Offer, now: datetime) -> float:
    if offer.valid_until is None:
        return 0.0
    left = offer.valid_until - now
    return 0.0 if left >= URGENT_WITHIN else 1.0 - left / URGENT_WITHIN


def _novelty(offer: Offer, now: datetime) -> float:
    age = now - offer.created_at
    return 0.0 if age >= NEW_WITHIN else 1.0 - max(age, timedelta(0)) / NEW_WITHIN


def _context_fit(rules: OfferContext, where: Situation) -> float:
    """Shown offers already fit their context; this says how closely, for offers that ask."""
    fits: list[float] = []
    if rules.stores and rules.radius_m:
        nearest = nearest_store_m(rules, where)
        fits.append(0.0 if nearest is None else max(0.0, 1.0 - nearest / rules.radius_m))
    if rules.days or rules.from_time is not None:
        fits.append(1.0)
    if rules.weather or rules.min_temperature is not None or rules.max_temperature is not None:
        fits.append(1.0)
    return sum(fits) / len(fits) if fits else 0.0
