"""The statistics of a campaign report: the difference of means between treated and held
out with a normal 95 % confidence interval (Welch's standard error), CUPED variance reduction
with each member's own pre-period value, and the sample-ratio test (chi-squared, 1 degree of
freedom). Pure functions over numbers, so a simulation can check them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054
SRM_P = 0.001


@dataclass(frozen=True)
class Uplift:
    treated: float  # mean of the treated (unadjusted)
    held_out: float
    uplift: float  # treated minus held out (CUPED-adjusted when a covariate is given)
    low: float
    high: float
    variance_reduced: float  # 0..1: the share of the outcome's variance CUPED removed


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _var(xs: Sequence[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def _cov(xs: Sequence[float], ys: Sequence[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mx, my = _mean(xs), _mean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (len(xs) - 1)


def cuped(ys: Sequence[float], xs: Sequence[float]) -> tuple[list[float], float]:
    """The outcomes adjusted by θ·(x - mean x), θ = cov(y, x) / var(x) over everyone (both
    groups, so the adjustment cannot favour one), and the share of variance removed."""
    var_x = _var(xs)
    if var_x == 0:
        return list(ys), 0.0
    theta = _cov(ys, xs) / var_x
    mx = _mean(xs)
    adjusted = [y - theta * (x - mx) for y, x in zip(ys, xs, strict=True)]
    before = _var(ys)
    return adjusted, (max(0.0, 1 - _var(adjusted) / before) if before else 0.0)


def uplift(
    treated: Sequence[float],
    held_out: Sequence[float],
    treated_pre: Sequence[float] | None = None,
    held_out_pre: Sequence[float] | None = None,
) -> Uplift:
    """Treated minus held out with its 95 % interval; with the pre-period values, CUPED."""
    reduced = 0.0
    t, c = list(treated), list(held_out)
    if treated_pre is not None and held_out_pre is not None:
        adjusted, reduced = cuped(t + c, list(treated_pre) + list(held_out_pre))
        t, c = adjusted[: len(t)], adjusted[len(t) :]
    diff = _mean(t) - _mean(c)
    se = math.sqrt((_var(t) / len(t) if t else 0) + (_var(c) / len(c) if c else 0))
    return Uplift(_mean(treated), _mean(held_out), diff, diff - Z95 * se, diff + Z95 * se, reduced)


def sample_ratio_p(treated: int, held_out: int, held_out_share: float) -> float:
    """The p-value of the chi-squared test that the split matches the expected share."""
    n = treated + held_out
    if n == 0 or not 0 < held_out_share < 1:
        return 1.0
    expected = (n * (1 - held_out_share), n * held_out_share)
    chi2 = sum((o - e) ** 2 / e for o, e in zip((treated, held_out), expected, strict=True))
    return math.erfc(math.sqrt(chi2 / 2))  # the survival function of chi-squared, 1 df


def sample_ratio_alarm(treated: int, held_out: int, held_out_share: float) -> bool:
    return sample_ratio_p(treated, held_out, held_out_share) < SRM_P
