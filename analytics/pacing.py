"""Pacing: where a count or amount should be by now, where it will finish, what is still needed.

Time is business time of the agreement's calendar: a period whose working hours
are half gone has an elapsed share of 0.5, however many calendar days that is.

>>> expected_to_date(400, 0.25), projected_finish(120, 0.25)
(100.0, 480.0)
>>> needed_per_week(400, 120, 2.0)
140.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.calendar import BusinessCalendar, business_seconds
from analytics.schema import UTC_TS


def _seconds(calendar: BusinessCalendar, start, end) -> float:
    starts = pd.Series([pd.Timestamp(start)]).astype(UTC_TS)
    ends = pd.Series([pd.Timestamp(end)]).astype(UTC_TS)
    return float(business_seconds(starts, ends, calendar).iloc[0])


def elapsed_share(calendar: BusinessCalendar, period_start, period_end, as_of) -> float:
    """Return the share of the period's business time that has passed at ``as_of`` (0..1).

    Before the period it is 0, after it 1. A period without any business time
    (e.g. a week of holidays) counts as elapsed by wall-clock time instead.
    """
    start, end, now = (pd.Timestamp(t) for t in (period_start, period_end, as_of))
    if now <= start:
        return 0.0
    if now >= end:
        return 1.0
    total = _seconds(calendar, start, end)
    if total <= 0:
        return float((now - start) / (end - start))
    return min(1.0, max(0.0, _seconds(calendar, start, now) / total))


def business_weeks_left(calendar: BusinessCalendar, period_end, as_of) -> float:
    """Return the business time left in the period at ``as_of``, in business weeks.

    A business week is ``len(workdays)`` working days of the calendar's hours, so
    a holiday left in the period makes the weeks left shorter.
    """
    if pd.Timestamp(as_of) >= pd.Timestamp(period_end):
        return 0.0
    return _seconds(calendar, as_of, period_end) / calendar.week_seconds


def expected_to_date(target, share):
    """Return what a count or amount should have reached by now: ``target x share``."""
    out = np.multiply(np.asarray(target, dtype="float64"), np.asarray(share, dtype="float64"))
    return out if out.ndim else float(out)


def projected_finish(actual, share):
    """Return the straight-line finish ``actual / share`` (NaN where no business time has passed)."""
    actual, share = np.asarray(actual, dtype="float64"), np.asarray(share, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(share > 0, actual / np.where(share > 0, share, 1.0), np.nan)
    return out if out.ndim else float(out)


def needed_per_week(target, actual, weeks_left):
    """Return what must still come in per business week to reach ``target``: max(target - actual, 0) / weeks left.

    0 once the target is reached; NaN when no business time is left but the
    target is not reached (nothing per week can close the gap).
    """
    target, actual = np.asarray(target, dtype="float64"), np.asarray(actual, dtype="float64")
    weeks = np.asarray(weeks_left, dtype="float64")
    missing = np.maximum(target - actual, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(
            missing <= 0, 0.0, np.where(weeks > 0, missing / np.where(weeks > 0, weeks, 1.0), np.nan)
        )
    out = np.where(np.isnan(target), np.nan, out)
    return out if out.ndim else float(out)


def expected_by_day(
    calendar: BusinessCalendar, period_start, period_end, target: float, instants
) -> np.ndarray:
    """Return ``target x elapsed share`` at each of ``instants`` (e.g. the end of each day of the period).

    The straight line from 0 at period start to ``target`` at period end, in
    business time: flat over nights, weekends and holidays.
    """
    start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    moments = pd.Series(pd.to_datetime(pd.Series(instants), utc=True)).clip(lower=start, upper=end)
    total = _seconds(calendar, start, end)
    if total <= 0:
        share = ((moments - start) / (end - start)).to_numpy(dtype="float64")
    else:
        starts = pd.Series([start] * len(moments)).astype(UTC_TS)
        share = business_seconds(starts, moments.astype(UTC_TS), calendar).to_numpy(dtype="float64") / total
    return float(target) * share
