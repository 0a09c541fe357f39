"""views.sales: the per-rep follow-up figures against a slow row-by-row oracle; chart and table agree."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from analytics.agreement import AgreementVersion, parse_document
from analytics.commitments import evaluate
from analytics.periods import period_grid
from tests.analytics.conftest import ORIGIN, commitment, make_frames, scenarios, ts
from tests.pages.dashboard_oracle import trace_values
from tests.views.oracle import UNASSIGNED, follow_up_by_rep, rate
from views.filters import filters_for
from views.sales import sales_view

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def speed(hours: float, target: float = 0.9) -> dict:
    return commitment("speed-to-lead", "followed_up_within", target, params={"business_hours": hours})


def two_versions(
    document: dict, hours: float, target: float, effective: pd.Timestamp
) -> list[AgreementVersion]:
    """``document`` in force from 1970, then the same with another follow-up limit and target from ``effective``."""
    later = {**document, "commitments": [speed(hours, target)]}
    return [
        AgreementVersion(
            agreement=document["name"],
            version=n,
            effective_from=when,
            document=parse_document(doc),
            created_at=when,
        )  # fmt: skip
        for n, (when, doc) in enumerate(((EPOCH, document), (effective, later)), start=1)
    ]


def chart_rates(fig) -> dict[str, tuple[float, float, str]]:
    """Rep -> (met, breached, rate label) as the rep chart draws them."""
    traces = {t.name: t for t in fig.data}
    met, breached = traces["Met"], traces["Breached"]
    labels = next(t for t in fig.data if getattr(t, "mode", None) == "text")
    return {
        str(rep): (float(m), float(b), label)
        for rep, m, b, label in zip(
            met.y, trace_values(met.x), trace_values(breached.x), labels.text, strict=True
        )
    }


def assert_view_matches_the_oracle(versions, frames, f) -> None:
    view = sales_view(versions, frames, frames, f)
    expected = follow_up_by_rep(versions, frames, f.period_start, f.period_end, f.as_of)
    table = view.per_rep.set_index("owner")
    judged = table[["met", "breached", "pending"]].sum(axis=1) > 0
    assert sorted(table.index[judged]) == sorted(expected)
    # The other rows are reps with overdue leads in the queue (about now) and none handed over in the period.
    assert (table.loc[~judged, "overdue_untouched"] > 0).all()
    for rep, counts in expected.items():
        row = table.loc[rep]
        assert (row["met"], row["breached"], row["pending"]) == (
            counts["met"],
            counts["breached"],
            counts["pending"],
        )
        assert (math.isnan(row["rate"]) and math.isnan(rate(counts))) or row["rate"] == pytest.approx(
            rate(counts)
        )
    # The chart draws the same frame: the same counts and the same rate for every rep.
    drawn = chart_rates(view.rep_chart)
    for rep, row in table[judged].iterrows():
        met, breached, label = drawn[rep]
        assert (met, breached) == (row["met"], row["breached"])
        assert label == ("n/a" if math.isnan(row["rate"]) else f"{row['rate']:.0%}")
    # ... and both are the metric's definition: evaluate judges the period by the version at its start.
    by_owner = evaluate(versions, f.slice(frames), f.period_start, f.period_end, f.as_of, by="owner")
    for row in by_owner[by_owner["metric"] == "followed_up_within"].itertuples():
        rep = UNASSIGNED if pd.isna(row.owner_id) else row.owner
        if row.met + row.breached > 0:
            assert table.loc[rep, "rate"] == pytest.approx(row.actual)
    figures = view.figures()
    per_rep = figures[figures["slice"].str.startswith("rep: ")].set_index("slice")["actual"]
    for rep, row in table[judged].iterrows():
        assert (math.isnan(row["rate"]) and math.isnan(per_rep[f"rep: {rep}"])) or per_rep[
            f"rep: {rep}"
        ] == pytest.approx(row["rate"])


def test_a_past_period_keeps_the_limit_in_force_when_it_started():
    """March is judged by its 4-hour limit though 1 hour is in force at as_of (April): 1 met, not 0."""
    document = {
        "name": "Test SLA", "parties": ["marketing", "sales"], "period": "month", "timezone": "UTC",
        "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": ["09:00", "17:00"]},
        "commitments": [speed(4)],
    }  # fmt: skip
    versions = two_versions(document, 1, 0.5, ts("2026-04-01"))
    frames = make_frames(
        leads=[
            {"mql_at": ts("2026-03-02 10:00"), "first_touch_at": ts("2026-03-02 12:00"), "owner_id": 1},
            {"mql_at": ts("2026-03-03 10:00"), "first_touch_at": ts("2026-03-03 16:00"), "owner_id": 1},
            {"mql_at": ts("2026-03-04 10:00"), "first_touch_at": ts("2026-03-04 10:30"), "owner_id": 2},
        ],
        owners=[{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bo"}],
    )
    f = filters_for(versions, ts("2026-04-10 12:00"), "2026-03")
    view = sales_view(versions, frames, frames, f)
    table = view.per_rep.set_index("owner")
    assert table.loc["Ann", ["met", "breached"]].tolist() == [1, 1]  # 2 h met, 6 h breached under 4 h
    assert view.limit_hours == 4
    assert_view_matches_the_oracle(versions, frames, f)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenarios(commitments=[speed(4)], period="month"),
    st.sampled_from([1, 2, 8, 24]),
    st.sampled_from([0.5, 0.8, 0.95]),
    st.integers(0, 150),
    st.data(),
)
def test_chart_and_table_give_the_same_rate_for_every_rep_period_and_version(
    scenario, hours, target, day, data
):
    document, frames, as_of = scenario
    versions = two_versions(document, hours, target, ORIGIN + pd.Timedelta(days=day))
    grid = period_grid("month", document["timezone"], ORIGIN - pd.Timedelta(days=31), as_of)
    labels = grid[grid["period_start"] <= as_of]["period"].tolist()
    assume(labels)
    f = filters_for(versions, as_of, data.draw(st.sampled_from(labels)))
    assert_view_matches_the_oracle(versions, frames, f)
