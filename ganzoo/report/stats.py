"""Small statistics for reports: Student-t quantiles, Welch intervals, mean ± std formatting.

Self-contained (math only) so the report needs no scipy. The t CDF is written through the
regularized incomplete beta function, evaluated by its continued fraction (modified Lentz),
and the quantile is found by bisection on that CDF.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

_EPS = 1e-15
_TINY = 1e-300


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), valid (fast converging) for x < (a+1)/(a+b+2)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),  # even step
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),  # odd step
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            delta = c * d
            result *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return result


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` (> 0, may be fractional) degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if math.isinf(df):
        return NormalDist().cdf(t)
    tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The `p` quantile of Student's t: t_quantile(0.975, 4) == 2.776..."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    if math.isinf(df):
        return NormalDist().inv_cdf(p)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low <= 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


@dataclass(frozen=True)
class WelchDifference:
    """``mean(b) - mean(a)`` with its Welch t interval; low/high are NaN when not estimable."""

    difference: float
    low: float
    high: float
    df: float
    n_a: int
    n_b: int
    confidence: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def welch_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> WelchDifference:
    """Confidence interval of ``mean(b) - mean(a)`` without assuming equal variances.

    Needs two values per arm for a variance; with fewer the difference is still given and
    the interval is NaN. If both arms have zero spread the interval collapses to the point.
    """
    a = [float(v) for v in a if not math.isnan(float(v))]
    b = [float(v) for v in b if not math.isnan(float(v))]
    n_a, n_b = len(a), len(b)
    if not n_a or not n_b:
        return WelchDifference(math.nan, math.nan, math.nan, math.nan, n_a, n_b, confidence)
    diff = sum(b) / n_b - sum(a) / n_a
    if n_a < 2 or n_b < 2:
        return WelchDifference(diff, math.nan, math.nan, math.nan, n_a, n_b, confidence)
    share_a = _sample_variance(a) / n_a
    share_b = _sample_variance(b) / n_b
    se2 = share_a + share_b
    if se2 == 0:
        return WelchDifference(diff, diff, diff, math.inf, n_a, n_b, confidence)
    df = se2**2 / (share_a**2 / (n_a - 1) + share_b**2 / (n_b - 1))
    half = t_quantile(0.5 + confidence / 2.0, df) * math.sqrt(se2)
    return WelchDifference(diff, diff - half, diff + half, df, n_a, n_b, confidence)


def _sample_variance(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def decimals_for(spread: float, significant: int = 2) -> int:
    """Decimal places that show `spread` with `significant` significant digits (0..6)."""
    if not math.isfinite(spread) or spread <= 0:
        return 3
    return max(0, min(6, significant - 1 - math.floor(math.log10(spread))))


def format_number(value: float, decimals: int | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if decimals is None:
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return f"{value:.{decimals}f}"


def format_mean_std(mean: float, std: float, n: int) -> str:
    """``12.3 ± 0.45``; a single seed has no spread and reads ``12.35 (n=1)``; no data ``–``."""
    if n == 0 or mean is None or math.isnan(mean):
        return "–"
    if n == 1 or std is None or math.isnan(std):
        return f"{format_number(mean)} (n=1)"
    if std <= 1e-12 * abs(mean):  # identical seeds (up to rounding): no spread to size the decimals by
        return f"{format_number(mean)} ± 0"
    if std < 1e-4:  # fixed decimals would print 0.000000 ± 0.000000
        return f"{mean:.3g} ± {std:.2g}"
    places = decimals_for(std)
    return f"{mean:.{places}f} ± {std:.{places}f}"


def format_interval(low: float, high: float, decimals: int) -> str:
    if math.isnan(low) or math.isnan(high):
        return "– (needs ≥2 seeds per arm)"
    return f"[{low:.{decimals}f}, {high:.{decimals}f}]"
