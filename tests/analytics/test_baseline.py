"""Baseline targets from closed periods, trailing funnel assumptions and the reverse funnel."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analytics.baseline import (
    BaselineError,
    FunnelAssumptions,
    baseline_of,
    reverse_funnel,
    suggest_targets,
    trailing_assumptions,
)
from analytics.commitments import evaluate
from tests.analytics.conftest import agreement, commitment, make_frames, ts


def test_baseline_is_median_and_interquartile_range_of_the_last_periods():
    b = baseline_of([10, 380, 420, 400, 450, 390, 410])  # only the last 6 count: 10 is dropped
    assert (b.suggested, b.low, b.high, b.periods, b.provisional) == (405.0, 392.5, 417.5, 6, False)
    assert baseline_of([1, 2, 3, 4], periods=2).suggested == 3.5
    assert baseline_of([1.0, float("nan"), 3.0]).suggested == 2.0


def test_fewer_than_three_periods_is_provisional_and_says_so():
    two = baseline_of([0.8, 0.9])
    assert two.provisional and two.periods == 2 and "provisional" in two.note
    assert not baseline_of([0.8, 0.9, 0.7]).provisional
    none = baseline_of([])
    assert none.provisional and math.isnan(none.suggested) and none.note == "no closed period with data yet"
    with pytest.raises(BaselineError, match="at least 1"):
        baseline_of([1.0], periods=0)


def test_suggest_targets_uses_closed_periods_only():
    doc = agreement(commitments=[commitment("volume", "mql_count", 3, owner="marketing")])
    counts = {1: 2, 2: 4, 3: 6, 4: 100}  # April is the current period and must not count
    leads = [{"mql_at": ts(f"2026-{m:02d}-05")} for m, n in counts.items() for _ in range(n)]
    result = evaluate(doc, make_frames(leads=leads), "2026-01-01", "2026-05-01", ts("2026-04-10"))
    suggestion = suggest_targets(result).iloc[0]
    assert suggestion["commitment"] == "volume" and suggestion["target"] == 3.0
    assert (suggestion["suggested"], suggestion["low"], suggestion["high"]) == (4.0, 3.0, 5.0)
    assert (suggestion["periods"], suggestion["first_period"], suggestion["last_period"]) == (
        3,
        "2026-01",
        "2026-03",
    )
    assert not suggestion["provisional"]
    short = suggest_targets(result[result["period"] >= "2026-03"]).iloc[0]
    assert short["provisional"] and short["periods"] == 1
    by_owner = evaluate(
        doc, make_frames(leads=leads), "2026-01-01", "2026-05-01", ts("2026-04-10"), by="owner"
    )
    with pytest.raises(BaselineError, match="without breakdown"):
        suggest_targets(by_owner)


def test_trailing_assumptions_from_the_last_closed_periods():
    doc = agreement()
    frames = make_frames(
        leads=[
            {"mql_at": ts("2026-02-02"), "sql_at": ts("2026-02-03")},
            {"mql_at": ts("2026-02-02"), "sql_at": ts("2026-02-03")},
            {"mql_at": ts("2026-02-02")},
            {"mql_at": ts("2026-02-02")},
            {"mql_at": ts("2025-06-02"), "sql_at": ts("2025-06-03")},  # outside the 2-month window
            {"created_at": ts("2026-02-02")},  # not a marketing lead
        ],
        deals=[
            {"lead_id": 1, "created_at": ts("2026-02-05"), "closed_at": ts("2026-03-01"), "amount": 3000.0,
             "is_won": True, "is_closed": True},
            {"lead_id": 6, "created_at": ts("2026-02-05"), "closed_at": ts("2026-02-20"), "amount": 1000.0,
             "is_won": True, "is_closed": True},
            {"lead_id": 2, "created_at": ts("2026-02-05"), "closed_at": ts("2026-02-21"), "amount": 5000.0,
             "is_won": False, "is_closed": True},
            {"lead_id": 5, "created_at": ts("2025-06-05"), "closed_at": ts("2025-07-01"), "amount": 9000.0,
             "is_won": True, "is_closed": True},  # outside the window
        ],
    )  # fmt: skip
    a = trailing_assumptions(doc, frames, ts("2026-04-10"), periods=2)  # window: February and March
    assert a.average_deal_size == 2000.0
    assert a.win_rate == pytest.approx(2 / 3)
    assert a.marketing_share == pytest.approx(3000 / 4000)
    assert a.mql_to_sql == pytest.approx(2 / 4)
    assert a.sql_to_opportunity == 1.0  # both SQLs have a deal
    empty = trailing_assumptions(doc, make_frames(), ts("2026-04-10"))
    assert math.isnan(empty.win_rate) and math.isnan(empty.average_deal_size)


def test_reverse_funnel_by_hand_and_with_overrides():
    base = FunnelAssumptions(average_deal_size=10_000, win_rate=0.25, sql_to_opportunity=0.5, mql_to_sql=0.4)
    plan = reverse_funnel(100_000, base)
    assert plan["step"].tolist() == ["revenue from marketing", "won deals", "opportunities", "SQLs", "MQLs"]
    assert plan["needed"].tolist() == [100_000, 10, 40, 80, 200]
    half = reverse_funnel(100_000, base, marketing_share=0.5, win_rate=0.3)
    assert half["needed"].tolist() == [50_000, 5, 17, 34, 85]  # 5/0.3 = 16.7 -> 17 (rounded up)
    exact = reverse_funnel(30_000, FunnelAssumptions(10_000, 0.1, 0.3, 1.0))
    assert exact["needed"].tolist()[1:3] == [3, 30]  # 3 / 0.1 is 30.000000000000004: still 30


def test_reverse_funnel_errors_name_the_assumption():
    base = FunnelAssumptions(average_deal_size=10_000, win_rate=0.25, sql_to_opportunity=0.5, mql_to_sql=0.4)
    with pytest.raises(
        BaselineError, match="win_rate must be a share in \\(0, 1\\], got 0.0: set it by hand"
    ):
        reverse_funnel(1000, base, win_rate=0)
    with pytest.raises(BaselineError, match="average_deal_size must be more than 0, got nan"):
        reverse_funnel(1000, base, average_deal_size=float("nan"))
    with pytest.raises(BaselineError, match="unknown assumption 'close_rate'"):
        reverse_funnel(1000, base, close_rate=0.2)
    with pytest.raises(BaselineError, match="revenue_goal must be 0 or more"):
        reverse_funnel(-1, base)
    assert reverse_funnel(1000, base, win_rate=None)["needed"].iloc[2] == 1 / 0.25
    assert isinstance(reverse_funnel(0, base), pd.DataFrame)
