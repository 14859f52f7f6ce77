"""Small helpers shared by the benchmarks: percentiles, sliding-window rates, a results table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """Most events inside any half-open window of ``window`` seconds."""
    ordered, best, i = sorted(times), 0, 0
    for j, t in enumerate(ordered):
        while t - ordered[i] >= window:
            i += 1
        best = max(best, j - i + 1)
    return best


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def row(name: str, value: str, target: str = "", verdict: str = "") -> str:
    return f"  {name:<52} {value:>16}  {target:<22} {verdict}"
