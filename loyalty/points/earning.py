"""Points for a purchase or an event: the pure calculation behind earning (no database, no I/O).

The caller looks up how much a member already earned (`cap_keys` says which figures) and passes
it in; this module only applies the programme's `EarningSpec`.

Purchases:
- Eligible lines are those whose category is not in `base.exclude_categories` and whose sku is
  not in `base.exclude_skus` (exact match). A purchase without eligible lines, or whose eligible
  total is below `base.min_order`, earns nothing at all.
- Base: each eligible line earns `amount * points_per_unit` unrounded; the award is the rounded
  sum (`down` = floor, `nearest` = half up, `up` = ceiling). Decimal throughout.
- Multiplier and bonus rules run by priority, highest first (file order on ties). A rule matches
  when its schedule, tiers, `min_order` (against the eligible total) and categories/skus (at least
  one eligible line whose category OR sku is listed) all match. A multiplier rule adds
  `(multiplier - 1)` times the unrounded base of its lines (all eligible lines when it lists
  none), rounded like the base; a bonus rule adds `points`. After a matching rule with `stop`,
  lower rules are skipped — even if caps cut that rule's award to nothing.
- Tier: with `tier_multiplier > 1`, `(tier_multiplier - 1)` times the total unrounded base.
- A rule's `cap` limits it to `cap.points - used[(rule.key, cap.per)]`. Programme caps
  (`spec.caps`, usage key "purchases") clip the purchase total; the cut is taken from the last
  awards first (tier, then rules in reverse order, then base).

Events: event rules for that event name that match schedule and tiers, by priority; `max_times`
per `max_times_per` and `cap` limit them, `stop` as above. No base rate, tier or programme caps.

Schedules and periods are read in programme time; weeks start on Monday. Awards of zero points
are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, localcontext
from zoneinfo import ZoneInfo

from loyalty.programme.spec import BaseRate, Cap, EarningRule, EarningSpec, Schedule

__all__ = [
    "BASE_RULE",
    "PURCHASES",
    "TIER_RULE",
    "Award",
    "BasketLine",
    "CapKey",
    "EarnContext",
    "cap_keys",
    "eligible_lines",
    "eligible_total",
    "event_awards",
    "period_start",
    "purchase_awards",
    "schedule_matches",
]

# (rule key, or PURCHASES for the programme caps; period "day"/"week"/"month"/"year"/"ever")
CapKey = tuple[str, str]

BASE_RULE = "base"
TIER_RULE = "tier"
PURCHASES = "purchases"

_PERIODS = ("day", "week", "month", "year", "ever")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ROUNDING = {"down": ROUND_FLOOR, "nearest": ROUND_HALF_UP, "up": ROUND_CEILING}
# Wide enough that money x rate products and their sums are exact, whatever the caller's context.
_EXACT = Context(prec=80)


@dataclass(frozen=True)
class BasketLine:
    sku: str
    category: str | None
    quantity: Decimal  # > 0, may be fractional (0.5 kg)
    unit_price: Decimal  # currency units, >= 0

    def __post_init__(self) -> None:
        if not self.quantity > 0:
            raise ValueError(f"quantity must be above 0, got {self.quantity}")
        if not self.unit_price >= 0:
            raise ValueError(f"unit price must not be negative, got {self.unit_price}")

    @property
    def amount(self) -> Decimal:
        with localcontext(_EXACT):
            return self.quantity * self.unit_price


@dataclass(frozen=True)
class Award:
    rule: str  # BASE_RULE, TIER_RULE, or an EarningRule.key
    points: int  # > 0
    description: str  # short text for the points history

    def __post_init__(self) -> None:
        if self.points <= 0:
            raise ValueError(f"an award needs a positive number of points, got {self.points}")


@dataclass(frozen=True)
class EarnContext:
    at: datetime  # timezone-aware
    zone: ZoneInfo  # programme time zone
    tier: str | None  # the member's tier key
    tier_multiplier: Decimal = Decimal(1)  # 1: no tier bonus

    def __post_init__(self) -> None:
        _require_aware(self.at)

    @property
    def local(self) -> datetime:
        return self.at.astimezone(self.zone)


@dataclass
class _Draft:
    rule: str
    points: int
    description: str


def cap_keys(spec: EarningSpec, event: str | None = None) -> list[CapKey]:
    """The usage figures the caller must look up: for a purchase (`event` None), the capped
    multiplier/bonus rules and the programme caps; for an event, the capped and `max_times`
    limited rules for that event (used points for caps, used times for `max_times`). Keys are
    listed once, in rule order; a key may be needed for both points and times."""
    keys: list[CapKey] = []
    if event is None:
        for rule in spec.rules:
            if rule.kind != "event" and rule.cap is not None:
                keys.append((rule.key, rule.cap.per))
        keys.extend((PURCHASES, cap.per) for cap in spec.caps)
    else:
        for rule in spec.rules:
            if rule.kind != "event" or rule.event != event:
                continue
            if rule.cap is not None:
                keys.append((rule.key, rule.cap.per))
            if rule.max_times is not None:
                keys.append((rule.key, rule.max_times_per))
    return list(dict.fromkeys(keys))


def eligible_lines(base: BaseRate, lines: Iterable[BasketLine]) -> list[BasketLine]:
    return [
        line
        for line in lines
        if line.category not in base.exclude_categories and line.sku not in base.exclude_skus
    ]


def eligible_total(spec: EarningSpec, lines: Iterable[BasketLine]) -> Decimal:
    with localcontext(_EXACT):
        return sum((line.amount for line in eligible_lines(spec.base, lines)), Decimal(0))


def purchase_awards(
    spec: EarningSpec,
    lines: Sequence[BasketLine],
    ctx: EarnContext,
    used: Mapping[CapKey, int],
) -> list[Award]:
    """The awards for one purchase; `used` holds points already earned per `cap_keys` key."""
    with localcontext(_EXACT):
        base = spec.base
        eligible = eligible_lines(base, lines)
        total = sum((line.amount for line in eligible), Decimal(0))
        if not eligible or total < base.min_order:
            return []
        line_bases = [line.amount * base.points_per_unit for line in eligible]
        base_total = sum(line_bases, Decimal(0))
        drafts = [_Draft(BASE_RULE, _round(base_total, base.rounding), "Points for purchase")]

        local = ctx.local
        for rule in _by_priority(spec.rules):
            if rule.kind == "event" or not _fits_member(rule, ctx, local):
                continue
            if rule.min_order is not None and total < rule.min_order:
                continue
            if rule.categories or rule.skus:
                hits = [
                    b for line, b in zip(eligible, line_bases, strict=True) if _hits(rule, line)
                ]
                if not hits:
                    continue
            else:
                hits = line_bases
            if rule.kind == "multiplier":
                assert rule.multiplier is not None  # the spec validates this
                points = _round((rule.multiplier - 1) * sum(hits, Decimal(0)), base.rounding)
            else:
                assert rule.points is not None
                points = rule.points
            drafts.append(_Draft(rule.key, _rule_cap(rule, points, used), _describe(rule)))
            if rule.stop:
                break

        if ctx.tier_multiplier > 1:
            points = _round((ctx.tier_multiplier - 1) * base_total, base.rounding)
            drafts.append(_Draft(TIER_RULE, points, _describe_tier(ctx)))

        _clip(drafts, spec.caps, used)
        return _awards(drafts)


def event_awards(
    spec: EarningSpec,
    event: str,
    ctx: EarnContext,
    used_points: Mapping[CapKey, int],
    used_times: Mapping[CapKey, int],
) -> list[Award]:
    """The awards for one event: `used_points` feeds the caps, `used_times` the `max_times`."""
    drafts: list[_Draft] = []
    local = ctx.local
    for rule in _by_priority(spec.rules):
        if rule.kind != "event" or rule.event != event or not _fits_member(rule, ctx, local):
            continue
        assert rule.points is not None
        spent = rule.max_times is not None and (
            _used(used_times, (rule.key, rule.max_times_per)) >= rule.max_times
        )
        if not spent:
            drafts.append(
                _Draft(rule.key, _rule_cap(rule, rule.points, used_points), _describe(rule))
            )
        # A rule used up by max_times still matched: a stop must not let lower rules pay instead.
        if rule.stop:
            break
    return _awards(drafts)


def period_start(period: str, at: datetime, zone: ZoneInfo) -> datetime | None:
    """UTC start of the programme-time period containing `at`; None for "ever".

    A local midnight that falls in a DST gap resolves to the first instant of that day; one that
    occurs twice resolves to the first occurrence."""
    _require_aware(at)
    if period not in _PERIODS:
        raise ValueError(f"unknown period {period!r}; expected one of {', '.join(_PERIODS)}")
    if period == "ever":
        return None
    day = at.astimezone(zone).date()
    start: date
    if period == "day":
        start = day
    elif period == "week":
        start = day - timedelta(days=day.weekday())
    elif period == "month":
        start = day.replace(day=1)
    else:
        start = day.replace(month=1, day=1)
    return datetime.combine(start, time(0), tzinfo=zone).replace(fold=0).astimezone(UTC)


def schedule_matches(schedule: Schedule, local: datetime) -> bool:
    """Whether `local` (already in programme time) falls within every part of `schedule`.

    Each part is checked on its own: with days [fri] and 22:00-02:00, Saturday 01:00 is out."""
    if schedule.days is not None and _WEEKDAYS[local.weekday()] not in schedule.days:
        return False
    today = local.date()
    if schedule.starts is not None and today < schedule.starts:
        return False
    if schedule.ends is not None and today > schedule.ends:
        return False
    now = local.time().replace(tzinfo=None)
    start = schedule.from_time.replace(tzinfo=None) if schedule.from_time else None
    end = schedule.until_time.replace(tzinfo=None) if schedule.until_time else None
    if start is not None and end is not None and start > end:
        return now >= start or now < end  # window wraps past midnight
    if start is not None and now < start:
        return False
    return not (end is not None and now >= end)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")


def _by_priority(rules: Sequence[EarningRule]) -> list[EarningRule]:
    return sorted(rules, key=lambda rule: -rule.priority)  # sorted() is stable: file order on ties


def _fits_member(rule: EarningRule, ctx: EarnContext, local: datetime) -> bool:
    if rule.tiers and ctx.tier not in rule.tiers:
        return False
    return rule.schedule is None or schedule_matches(rule.schedule, local)


def _hits(rule: EarningRule, line: BasketLine) -> bool:
    return line.category in rule.categories or line.sku in rule.skus


def _round(value: Decimal, rounding: str) -> int:
    return int(value.to_integral_value(rounding=_ROUNDING[rounding]))


def _used(used: Mapping[CapKey, int], key: CapKey) -> int:
    return max(0, used.get(key, 0))


def _room(cap: Cap, key: str, used: Mapping[CapKey, int]) -> int:
    return max(0, cap.points - _used(used, (key, cap.per)))


def _rule_cap(rule: EarningRule, points: int, used: Mapping[CapKey, int]) -> int:
    points = max(0, points)  # a multiplier below 1 earns nothing rather than taking points
    return points if rule.cap is None else min(points, _room(rule.cap, rule.key, used))


def _clip(drafts: list[_Draft], caps: Sequence[Cap], used: Mapping[CapKey, int]) -> None:
    for draft in drafts:
        draft.points = max(0, draft.points)
    if not caps:
        return
    excess = sum(d.points for d in drafts) - min(_room(cap, PURCHASES, used) for cap in caps)
    for draft in reversed(drafts):
        if excess <= 0:
            break
        cut = min(draft.points, excess)
        draft.points -= cut
        excess -= cut


def _awards(drafts: Iterable[_Draft]) -> list[Award]:
    return [Award(d.rule, d.points, d.description) for d in drafts if d.points > 0]


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _describe(rule: EarningRule) -> str:
    if rule.description:
        return rule.description
    if rule.kind == "multiplier":
        assert rule.multiplier is not None
        text = f"{_number(rule.multiplier)}x points"
        targets = [*rule.categories, *rule.skus]
        return f"{text} on {', '.join(targets)}" if targets else text
    if rule.kind == "bonus":
        return f"Bonus points ({rule.key})"
    return f"Points for {rule.event}"


def _describe_tier(ctx: EarnContext) -> str:
    text = f"{_number(ctx.tier_multiplier)}x tier points"
    return f"{text} ({ctx.tier})" if ctx.tier else text
