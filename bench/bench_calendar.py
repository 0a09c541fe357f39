"""Benchmark: business_seconds on 1,000,000 pairs against a per-pair pandas CustomBusinessHour loop.

Run: .venv/bin/python bench/bench_calendar.py

The calendar is Europe/Berlin, Mon-Fri 09:00-17:30 with German public holidays. Pairs start
uniformly over 2025-2026 and last a log-normal time (median 24 hours, long tail, capped at 60
days); 2% are reversed and 1% miss a side. The reference is the natural per-row alternative:
pandas' CustomBusinessHour has no timezone, so it runs on local (Berlin) wall-clock times, which
is exact for these hours because no DST jump falls inside 09:00-17:30. It counts whole business
hours with the offset's own arithmetic (galloping on n so a long pair costs O(log n) offset
additions, not one per hour) and adds the sub-hour remainder. Both must agree to 1e-6 s.
It also times add_business_seconds on the same 1M starts and checks it inverts business_seconds.
Prints `name: value` lines last; exits 1 if the results differ.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import calendar as calendar_module  # noqa: E402
from analytics.calendar import BusinessCalendar, add_business_seconds, business_seconds  # noqa: E402

PAIRS = 1_000_000
SAMPLE = 20_000
REFERENCE_BUDGET_S = 120.0
HOLIDAYS = [
    "2025-01-01", "2025-04-18", "2025-04-21", "2025-05-01", "2025-05-29", "2025-06-09", "2025-10-03",
    "2025-12-25", "2025-12-26", "2026-01-01", "2026-04-03", "2026-04-06", "2026-05-01", "2026-05-14",
    "2026-05-25", "2026-10-03", "2026-12-25", "2026-12-26",
]  # fmt: skip
OPENING, CLOSING = "09:00", "17:30"
CALENDAR = BusinessCalendar(timezone="Europe/Berlin", hours=(OPENING, CLOSING), holidays=tuple(HOLIDAYS))
CBH = pd.offsets.CustomBusinessHour(
    start=OPENING, end=CLOSING, weekmask="Mon Tue Wed Thu Fri", holidays=HOLIDAYS
)


def random_pairs(n: int, seed: int = 20260301) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    lo = pd.Timestamp("2025-01-01", tz="UTC").value // 1000
    hi = pd.Timestamp("2027-01-01", tz="UTC").value // 1000
    starts = rng.integers(lo, hi, n)
    seconds = np.minimum(rng.lognormal(np.log(24 * 3600), 1.5, n), 60 * 86400)
    seconds[rng.random(n) < 0.02] *= -1
    ends = starts + (seconds * 1e6).astype(np.int64)
    as_utc = lambda us: pd.Series(pd.to_datetime(us, unit="us", utc=True))  # noqa: E731
    s, e = as_utc(starts), as_utc(ends)
    s[rng.random(n) < 0.01] = pd.NaT
    e[rng.random(n) < 0.01] = pd.NaT
    return s, e


def reference_seconds(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Business seconds between two local wall-clock times with CustomBusinessHour, one pair at a time."""
    if pd.isna(start) or pd.isna(end):
        return float("nan")
    if end <= start:
        return 0.0
    a, b = CBH.rollforward(start), CBH.rollforward(end)  # outside hours -> the next opening
    if b <= a:
        return 0.0
    n, step = 0, 1  # the largest n with a + n business hours <= b
    while a + (n + step) * CBH <= b:
        n += step
        step *= 2
    while step > 1:
        step //= 2
        if a + (n + step) * CBH <= b:
            n += step
    t = a + n * CBH
    if t.normalize() == b.normalize():
        rest = b - t
    else:  # the last partial hour runs to the closing, then from the next opening
        rest = (t.normalize() + pd.Timedelta(CLOSING + ":00") - t) + (
            b - b.normalize() - pd.Timedelta(OPENING + ":00")
        )
    return n * 3600.0 + rest.total_seconds()


def run_reference(starts: pd.Series, ends: pd.Series) -> np.ndarray:
    walls = [s.dt.tz_convert(CALENDAR.timezone).dt.tz_localize(None) for s in (starts, ends)]
    return np.array([reference_seconds(s, e) for s, e in zip(*walls, strict=True)])


def best_of(runs: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        calendar_module._cached_grid.cache_clear()  # time the whole computation, grid included
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> int:
    starts, ends = random_pairs(PAIRS)
    fast_s, fast = best_of(3, lambda: business_seconds(starts, ends, CALENDAR))
    amounts = fast.fillna(4 * 3600.0)
    add_s, due = best_of(3, lambda: add_business_seconds(starts, amounts, CALENDAR))
    back = business_seconds(starts, due, CALENDAR)
    inverse_diff = float(np.nanmax(np.abs(back - amounts)))

    # Size the reference sample so it fits the time budget; extrapolate per pair if it had to shrink.
    probe = 500
    t0 = time.perf_counter()
    run_reference(starts.iloc[:probe], ends.iloc[:probe])
    per_pair_guess = (time.perf_counter() - t0) / probe
    sample = min(SAMPLE, max(probe, int(REFERENCE_BUDGET_S / per_pair_guess)))
    t0 = time.perf_counter()
    reference = run_reference(starts.iloc[:sample], ends.iloc[:sample])
    reference_s = time.perf_counter() - t0

    fast_sample = business_seconds(starts.iloc[:sample], ends.iloc[:sample], CALENDAR).to_numpy()
    same_missing = np.array_equal(np.isnan(fast_sample), np.isnan(reference))
    both = ~np.isnan(reference)
    max_diff = float(np.max(np.abs(fast_sample[both] - reference[both]))) if both.any() else 0.0
    # The 1M-pair result must agree with the sample result on the same rows.
    consistent = np.allclose(fast.to_numpy()[:sample], fast_sample, rtol=0, atol=1e-6, equal_nan=True)

    per_pair_fast = fast_s / PAIRS
    per_pair_reference = reference_s / sample
    valid = fast.notna()
    print(f"pairs: {PAIRS:,} ({int((~valid).sum()):,} with a missing side), reference sample: {sample:,}")
    print(f"median business hours per pair: {fast[valid].median() / 3600:.2f}")
    if sample < SAMPLE:
        print(
            f"note: reference measured on {sample:,} pairs (budget {REFERENCE_BUDGET_S:.0f} s), per pair extrapolated"
        )
    print(f"business_seconds_1m_s: {fast_s:.3f}")
    print(f"fast_per_pair_us: {per_pair_fast * 1e6:.3f}")
    print(f"add_business_seconds_1m_s: {add_s:.3f}")
    print(f"inverse_max_abs_diff_s: {inverse_diff:.3g}")
    print(f"reference_{sample // 1000}k_s: {reference_s:.2f}")
    print(f"reference_per_pair_us: {per_pair_reference * 1e6:.1f}")
    print(f"speedup_x: {per_pair_reference / per_pair_fast:.0f}")
    print(f"max_abs_diff_s: {max_diff:.3g}")
    identical = same_missing and max_diff <= 1e-6 and consistent and inverse_diff <= 1e-6
    print(f"identical: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
