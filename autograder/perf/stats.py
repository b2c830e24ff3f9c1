"""Statistics of side-by-side performance measurements: ratio estimates, verdicts, the scoring curve.

Measured on the development machine (2-vCPU VM, 20 processes): absolute times vary 1.3-1.8×
from process to process, but the ratio of two workloads timed interleaved, round by round, varies only about
±3 %. So the statistic is the median of per-round ratios (submission time / reference time of the same round,
on the same fresh inputs), with a bootstrap confidence interval; the verdict says whether more rounds could
still change the score.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

PASS, FAIL, PARTIAL, INCONCLUSIVE = "pass", "fail", "partial", "inconclusive"


@dataclass(frozen=True)
class RatioEstimate:
    """Median per-round ratio and its bootstrap confidence interval."""

    median: float
    low: float
    high: float
    rounds: int
    confidence: float


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of no values")
    middle = n // 2
    return ordered[middle] if n % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])


def estimate_ratio(ratios: Sequence[float], *, confidence: float = 0.95, resamples: int = 2000,
                   seed: int = 0) -> RatioEstimate:
    """Median of ``ratios`` with a percentile-bootstrap interval (seeded: the same data, the same interval)."""
    if not ratios:
        raise ValueError("no rounds measured")
    rng = random.Random(seed)
    n = len(ratios)
    medians = sorted(median([ratios[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    low = medians[max(0, int(math.floor(tail * resamples)))]
    high = medians[min(resamples - 1, int(math.ceil((1.0 - tail) * resamples)) - 1)]
    return RatioEstimate(median=median(ratios), low=low, high=high, rounds=n, confidence=confidence)


def credit(ratio: float, full: float, zero: float) -> float:
    """Fraction of the points: 1 at or below ``full``, 0 at or above ``zero``, linear between.

    For metrics where bigger is better (a speed-up), give ``full > zero``; the curve mirrors.
    """
    if full == zero:
        return 1.0 if ratio <= full else 0.0
    fraction = (zero - ratio) / (zero - full)
    return max(0.0, min(1.0, fraction))


def verdict_of_credit(value: float) -> str:
    """pass / partial / fail for a credit known exactly (memory, FLOPs, scaling: no interval to consult)."""
    return PASS if value >= 1.0 - 1e-12 else FAIL if value <= 1e-12 else PARTIAL


def verdict(estimate: RatioEstimate, full: float, zero: float, *, tolerance: float = 0.05) -> str:
    """pass / fail / partial when the interval pins the credit down to within ``tolerance``; else inconclusive."""
    a, b = credit(estimate.low, full, zero), credit(estimate.high, full, zero)
    if abs(a - b) > tolerance:
        return INCONCLUSIVE
    return verdict_of_credit(credit(estimate.median, full, zero))


def scaling_exponent(sizes: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of log(value) over log(size), and R²: ~1 for O(n), ~2 for O(n²)."""
    if len(sizes) != len(values) or len(sizes) < 2:
        raise ValueError("need at least two (size, value) points")
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(v, 1e-300)) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (my + slope * (x - mx))) ** 2 for x, y in zip(xs, ys))
    return slope, (1.0 - ss_res / ss_tot) if ss_tot > 0 else 1.0
