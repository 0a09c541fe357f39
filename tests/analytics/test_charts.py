"""Chart builders: titles, axis titles with units, the target drawn in, status colours, bounded size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics import charts
from analytics.charts import (
    AMBER,
    GREEN,
    GREY,
    MAX_BINS,
    RED,
    STATUS_COLORS,
    STATUS_LABELS,
    ChartError,
    funnel_chart,
    pacing_chart,
    rep_compliance_chart,
    response_time_histogram,
    trend_chart,
    value_axis_title,
)
from analytics.commitments import STATUSES, daily_progress, evaluate
from analytics.followup import STATUS_NAMES
from analytics.funnel import funnel, funnel_totals
from tests.analytics.conftest import agreement, commitment, make_frames, ts


def titles(fig: go.Figure) -> tuple[str, str, str]:
    return fig.layout.title.text, fig.layout.xaxis.title.text, fig.layout.yaxis.title.text


def marks(fig: go.Figure) -> int:
    return sum(len(t.x) if t.x is not None else len(t.y) for t in fig.data)


def test_status_colours_cover_every_status_once():
    assert set(STATUSES) | set(STATUS_NAMES.values()) <= set(STATUS_COLORS)
    assert set(STATUS_COLORS) == set(STATUS_LABELS)
    assert STATUS_COLORS["met"] == STATUS_COLORS["on track"] == GREEN
    assert STATUS_COLORS["at risk"] == AMBER
    assert STATUS_COLORS["missed"] == STATUS_COLORS["off track"] == STATUS_COLORS["breached"] == RED
    assert STATUS_COLORS["pending"] == STATUS_COLORS["no target"] == GREY


def test_pacing_chart_has_actual_expected_and_target():
    doc = agreement(period="week", commitments=[commitment("volume", "mql_count", 40, owner="marketing")])
    frames = make_frames(leads=[{"mql_at": ts("2026-03-02 10:00")}] * 12)
    progress = daily_progress(doc, frames, "volume", ts("2026-03-03"), ts("2026-03-04 13:00"))
    fig = pacing_chart(progress, title="MQL volume, week 10", status="at risk")
    assert titles(fig) == ("MQL volume, week 10", "Day", "Leads (count)")
    names = [t.name for t in fig.data]
    assert names == ["Expected pace", "Actual (cumulative)"]
    assert fig.data[1].line.color == AMBER
    assert len(fig.data[1].x) == 3  # only the days up to as_of
    target = [s for s in fig.layout.shapes if s.y0 == 40 and s.y1 == 40]
    assert target, "the target is drawn as a horizontal line"
    assert fig.layout.annotations[0].text == "Target 40"


def test_response_time_histogram_bins_and_sla_line():
    rng = np.random.default_rng(1)
    detail = pd.DataFrame({"business_hours_taken": np.r_[rng.lognormal(0.5, 1.0, 100_000), [np.nan] * 10]})
    fig = response_time_histogram(detail, sla_hours=4)
    assert titles(fig) == ("Time to first touch", "Business hours to first touch (h)", "Leads (count)")
    bars = fig.data[0]
    assert len(bars.x) <= MAX_BINS
    assert sum(bars.y) == 100_000  # every touched lead is in a bin; untouched ones are left out
    assert set(bars.marker.color) == {GREEN, RED}
    sla = [s for s in fig.layout.shapes if s.x0 == 4 and s.x1 == 4]
    assert sla and fig.layout.annotations[0].text == "SLA 4 h"
    empty = response_time_histogram(pd.DataFrame({"business_hours_taken": [np.nan]}), sla_hours=4)
    assert sum(empty.data[0].y) == 0


def test_rep_compliance_is_sorted_worst_first_with_target_ticks():
    rows = pd.DataFrame(
        {
            "owner": ["Ann", "Bo", "Cy", "Ann"],
            "met": [8.0, 5.0, 9.0, 1.0],
            "breached": [1.0, 5.0, 1.0, 0.0],
            "pending": [1.0, 0.0, 2.0, 0.0],
            "target": [0.9, 0.9, 0.9, 0.9],
        }
    )
    fig = rep_compliance_chart(rows, title="Speed to lead by rep")
    assert titles(fig) == ("Speed to lead by rep", "Leads handed over (count)", "Rep")
    met, breached, pending, ticks, labels = fig.data
    assert list(met.y) == ["Bo", "Ann", "Cy"]  # 50%, 90%, 90% (a tie keeps the name order)
    assert list(met.x) == [5.0, 9.0, 9.0] and list(breached.x) == [5.0, 1.0, 1.0]
    assert [met.marker.color, breached.marker.color, pending.marker.color] == [GREEN, RED, GREY]
    assert list(ticks.x) == pytest.approx([9.0, 9.0, 9.0])  # target x decided leads
    assert list(labels.text) == ["50%", "90%", "90%"]
    assert fig.layout.barmode == "stack" and fig.layout.yaxis.autorange == "reversed"


def test_funnel_chart_with_targets():
    doc = agreement()
    frames = make_frames(
        leads=[{"mql_at": ts("2026-03-02"), "sql_at": ts("2026-03-03")}, {"mql_at": ts("2026-03-02")}],
        deals=[{"lead_id": 1, "created_at": ts("2026-03-04")}],
    )
    totals = funnel_totals(funnel(doc, frames, "2026-03-01", "2026-04-01", ts("2026-03-20")))
    fig = funnel_chart(totals, targets={"MQL": 3, "Won": 1})
    assert titles(fig) == ("Lead funnel", "Leads (count)", "Stage")
    bars, target = fig.data
    assert list(bars.y) == ["MQL", "SQL", "Opportunity", "Won"] and list(bars.x) == [2, 1, 1, 0]
    assert list(bars.text)[:2] == ["2", "1 (50% of previous)"]
    assert list(target.y) == ["MQL", "Won"] and list(target.x) == [3, 1]


def test_trend_chart_colours_bars_by_status_and_steps_the_target():
    doc = agreement(
        commitments=[commitment("speed", "followed_up_within", 0.5, params={"business_hours": 1})]
    )
    frames = make_frames(
        leads=[
            {"mql_at": ts("2026-01-05 09:00"), "first_touch_at": ts("2026-01-05 09:10")},
            {"mql_at": ts("2026-02-02 09:00"), "first_touch_at": ts("2026-02-02 12:00")},
        ]
    )
    rows = evaluate(doc, frames, "2026-01-01", "2026-03-01", ts("2026-03-10"))
    fig = trend_chart(rows, title="Speed to lead")
    assert titles(fig) == ("Speed to lead", "Period", "Share of leads (%)")
    bars, target = fig.data
    assert list(bars.y) == [100.0, 0.0] and list(bars.marker.color) == [GREEN, RED]
    assert list(target.y) == [50.0, 50.0] and target.line.shape == "hvh"
    with pytest.raises(ChartError, match="one commitment, one per period"):
        trend_chart(pd.concat([rows, rows.assign(commitment="other")]), title="x")
    # A later version measuring the same metric under another id continues the one series.
    renamed = rows.assign(commitment=["speed", "speed-to-lead"])
    assert list(trend_chart(renamed, title="Speed to lead").data[0].y) == [100.0, 0.0]
    with pytest.raises(ChartError, match="one commitment"):
        trend_chart(renamed.assign(metric=["followed_up_within", "mql_count"]), title="x")


def test_axis_titles_and_missing_columns():
    assert value_axis_title("amount", "currency", "EUR") == "Amount (EUR)"
    assert value_axis_title("duration") == "Business hours"
    assert value_axis_title("count", "leads") == "Leads (count)"
    with pytest.raises(ChartError, match="unknown metric kind"):
        value_axis_title("ratio")
    with pytest.raises(ChartError, match="lacks column\\(s\\) cumulative"):
        pacing_chart(pd.DataFrame({"day": [], "expected": [], "target": []}), title="x")
    with pytest.raises(ChartError, match="rep compliance chart: the frame lacks column\\(s\\) owner"):
        rep_compliance_chart(pd.DataFrame({"met": []}), title="x")


def test_figures_serialise_and_stay_small():
    rows = pd.DataFrame({"owner": [f"rep {i}" for i in range(30)], "met": 5.0, "breached": 1.0, "pending": 0.0,
                         "target": 0.9})  # fmt: skip
    fig = rep_compliance_chart(rows, title="x")
    assert marks(fig) < 200
    assert '"title"' in fig.to_json()


def test_tidy_leaves_a_missing_target_out_of_the_legend_after_a_cache():
    """A cached page view is pickled: plotly then holds arrays as typed arrays, still read as all missing."""
    import pickle

    rows = pd.DataFrame({"period": ["2026-10", "2026-11"], "actual": [1.0, 2.0], "target": [np.nan, np.nan],
                         "status": ["no target"] * 2, "kind": ["amount"] * 2, "unit": ["currency"] * 2})  # fmt: skip
    cached = pickle.loads(pickle.dumps(trend_chart(rows, title="Won revenue")))
    target = next(t for t in charts.tidy(cached).data if t.name == "Target")
    assert target.showlegend is False
