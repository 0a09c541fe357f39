"""Pacing: elapsed share in business time, projection, expected to date, needed per remaining week."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from analytics.calendar import BusinessCalendar
from analytics.pacing import (
    business_weeks_left,
    elapsed_share,
    expected_by_day,
    expected_to_date,
    needed_per_week,
    projected_finish,
)
from tests.analytics.conftest import ts

UTC_9_TO_17 = BusinessCalendar(timezone="UTC", hours=("09:00", "17:00"))
WEEK = (ts("2026-03-02"), ts("2026-03-09"))  # Monday to Monday


def test_elapsed_share_counts_business_time_only():
    assert elapsed_share(UTC_9_TO_17, *WEEK, ts("2026-03-04 13:00")) == 0.5  # 20 of 40 h
    assert elapsed_share(UTC_9_TO_17, *WEEK, ts("2026-03-04 18:00")) == 0.6  # evening: 24 of 40 h
    assert elapsed_share(UTC_9_TO_17, *WEEK, ts("2026-03-07 12:00")) == 1.0  # the working week is over
    assert elapsed_share(UTC_9_TO_17, *WEEK, ts("2026-03-02 08:00")) == 0.0
    assert elapsed_share(UTC_9_TO_17, *WEEK, ts("2026-03-01")) == 0.0
    assert elapsed_share(UTC_9_TO_17, *WEEK, ts("2026-03-10")) == 1.0


def test_holidays_shrink_the_period_and_a_period_without_work_uses_the_clock():
    monday_off = BusinessCalendar(timezone="UTC", hours=("09:00", "17:00"), holidays=(dt.date(2026, 3, 2),))
    assert elapsed_share(monday_off, *WEEK, ts("2026-03-04 13:00")) == pytest.approx(12 / 32)
    all_off = BusinessCalendar(timezone="UTC", workdays=(5,), holidays=(dt.date(2026, 3, 7),))
    assert elapsed_share(all_off, *WEEK, ts("2026-03-05 12:00")) == pytest.approx(3.5 / 7)


def test_business_weeks_left():
    assert business_weeks_left(UTC_9_TO_17, WEEK[1], ts("2026-03-04 13:00")) == 0.5
    assert business_weeks_left(UTC_9_TO_17, WEEK[1], ts("2026-03-09")) == 0.0
    # a month: from Monday 2 March 09:00 to 1 April: 22 working days = 4.4 weeks
    assert business_weeks_left(UTC_9_TO_17, ts("2026-04-01"), ts("2026-03-02")) == pytest.approx(4.4)


def test_projection_expected_and_needed():
    assert expected_to_date(400, 0.25) == 100.0
    assert projected_finish(120, 0.25) == 480.0
    assert math.isnan(projected_finish(120, 0.0))
    assert projected_finish(np.array([10.0, 5.0]), np.array([0.5, 0.0]))[0] == 20.0
    assert needed_per_week(400, 120, 2.0) == 140.0
    assert needed_per_week(400, 450, 2.0) == 0.0  # reached
    assert math.isnan(needed_per_week(400, 120, 0.0))  # short, and no time left
    assert math.isnan(needed_per_week(np.nan, 120, 1.0))


def test_expected_by_day_is_flat_over_the_weekend():
    ends = pd.Series(pd.date_range("2026-03-03", periods=7, freq="D", tz="UTC"))  # ends of Mon..Sun
    line = expected_by_day(UTC_9_TO_17, *WEEK, 100.0, ends)
    assert line.tolist() == pytest.approx([20, 40, 60, 80, 100, 100, 100])
    before = expected_by_day(UTC_9_TO_17, *WEEK, 100.0, pd.Series([ts("2026-02-01"), ts("2026-04-01")]))
    assert before.tolist() == [0.0, 100.0]
