"""A member's own purchase rhythm, and what it says: lifecycle stage and churn risk.

Everything here is measured against the member's own habits, not against a programme-wide
number of days: a member who buys every two months and last bought five weeks ago is on
time, a member who bought every week and has not been back for a month is not.

- The usual interval is the median of the gaps between their purchases (30 days for a member
  with one purchase, `DEFAULT_INTERVAL_DAYS`).
- Overdue is the time since the last purchase divided by the usual interval.
- The lifecycle stage: `lapsed` at `LAPSED_FACTOR` times the usual interval or more,
  `at_risk` from `AT_RISK_FACTOR`, otherwise `new` within `NEW_DAYS` of joining, else
  `active`. A member who never bought is `new` for `NEW_DAYS`, then `lapsed`.
- The churn risk (0..1) is the sum of named parts: `overdue` (how far past their rhythm),
  `slowing_down` (the recent gaps, the one still open included once it is longer than usual,
  against the earlier ones) and `spending_less` (the recent
  purchases' value against the earlier ones). A trend needs four purchases; without one, its
  weight goes to `overdue`. The parts always add up to the score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from statistics import fmean, median

DAY_SECONDS = 86_400.0
DEFAULT_INTERVAL_DAYS = 30.0
MIN_INTERVAL_DAYS = 1.0
NEW_DAYS = 30
AT_RISK_FACTOR = 1.5
LAPSED_FACTOR = 3.0
# How much each trend weighs in the churn risk; `overdue` has the rest.
SLOWING_WEIGHT = 0.25
SPENDING_WEIGHT = 0.15
MIN_FOR_TREND = 4


@dataclass(frozen=True)
class Purchase:
    at: datetime
    amount: Decimal


@dataclass(frozen=True)
class Rhythm:
    purchases: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    days_since_last: float | None  # None: never bought
    days_since_joining: float
    usual_interval_days: float
    overdue: float  # days since the last purchase (or joining) / usual interval
    stage: str
    churn_risk: float
    churn_parts: tuple[tuple[str, float], ...]

    @property
    def stage_reason(self) -> str:
        if self.days_since_last is None:
            return f"no purchase yet, joined {self.days_since_joining:.0f} days ago"
        return (
            f"{self.days_since_last:.0f} days since the last purchase, usually every "
            f"{self.usual_interval_days:.0f} ({self.overdue:.1f}x)"
        )


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / DAY_SECONDS


def _thirds(values: Sequence[float]) -> tuple[float, float]:
    """Mean of the last third (at least one) against the mean of the rest."""
    recent = max(1, len(values) // 3)
    return fmean(values[-recent:]), fmean(values[:-recent])


def _slowing(gaps: Sequence[float]) -> float | None:
    if len(gaps) + 1 < MIN_FOR_TREND:
        return None
    recent, earlier = _thirds(gaps)
    return min(max((recent / max(earlier, MIN_INTERVAL_DAYS) - 1) / 2, 0.0), 1.0)


def _spending(amounts: Sequence[float]) -> float | None:
    if len(amounts) < MIN_FOR_TREND:
        return None
    recent, earlier = _thirds(amounts)
    if earlier <= 0:
        return 0.0
    return min(max((1 - recent / earlier) * 2, 0.0), 1.0)


def _overdue_part(overdue: float) -> float:
    """0 while on rhythm, rising towards 1 the further past it."""
    return 1 - math.exp(-max(overdue - 1, 0.0))


def _stage(overdue: float, bought: bool, days_since_joining: float) -> str:
    if not bought:
        return "new" if days_since_joining < NEW_DAYS else "lapsed"
    if overdue >= LAPSED_FACTOR:
        return "lapsed"
    if overdue >= AT_RISK_FACTOR:
        return "at_risk"
    return "new" if days_since_joining < NEW_DAYS else "active"


def rhythm_of(purchases: Sequence[Purchase], joined_at: datetime, now: datetime) -> Rhythm:
    """The rhythm of `purchases` (oldest first) as of `now`."""
    ordered = sorted(purchases, key=lambda p: p.at)
    joined = max(_days(joined_at, now), 0.0)
    gaps = [max(_days(a.at, b.at), 0.0) for a, b in pairwise(ordered)]
    usual = max(median(gaps), MIN_INTERVAL_DAYS) if gaps else DEFAULT_INTERVAL_DAYS
    since = max(_days(ordered[-1].at, now), 0.0) if ordered else None
    overdue = (since if since is not None else joined) / usual
    trends = [
        # The gap still open counts once it is longer than usual: silence is slowing down too.
        (
            "slowing_down",
            SLOWING_WEIGHT,
            _slowing(gaps + ([since] if since and since > usual else [])),
        ),
        ("spending_less", SPENDING_WEIGHT, _spending([float(p.amount) for p in ordered])),
    ]
    known = [(name, weight * value) for name, weight, value in trends if value is not None]
    overdue_weight = 1 - sum(weight for _, weight, value in trends if value is not None)
    parts = (("overdue", overdue_weight * _overdue_part(overdue)), *known)
    rounded = tuple((name, round(value, 4)) for name, value in parts)
    return Rhythm(
        purchases=len(ordered),
        first_purchase_at=ordered[0].at if ordered else None,
        last_purchase_at=ordered[-1].at if ordered else None,
        days_since_last=since,
        days_since_joining=joined,
        usual_interval_days=usual,
        overdue=overdue,
        stage=_stage(overdue, bool(ordered), joined),
        churn_risk=round(min(sum(v for _, v in rounded), 1.0), 4),
        churn_parts=rounded,
    )
