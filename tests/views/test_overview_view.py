"""views.overview: the week's and the period's figures against slow row-by-row counts from the frames."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings

from analytics.agreement import parse_document
from analytics.commitments import as_versions
from analytics.periods import week_row
from tests.analytics.conftest import commitment, scenarios
from tests.views.oracle import follow_up_by_rep, handed_over, rate
from views.filters import filters_for
from views.overview import data_window, overview_view, week_choices

COMMITMENTS = [
    commitment("mql-volume", "mql_count", 40, owner="marketing"),
    commitment("speed-to-lead", "followed_up_within", 0.9, params={"business_hours": 4}),
]


def overall(versions, frames, start, end, as_of) -> float:
    counts = {"met": 0, "breached": 0, "pending": 0}
    for rep in follow_up_by_rep(versions, frames, start, end, as_of).values():
        for status in counts:
            counts[status] += rep[status]
    return rate(counts)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=COMMITMENTS, period="month"))
def test_the_week_and_the_period_are_the_rows_counted_by_hand(scenario):
    document, frames, as_of = scenario
    doc = parse_document(document)
    f = filters_for(doc, as_of)
    weeks = week_choices(doc, f)
    assume(weeks)
    week = weeks[0]  # the latest week of the period so far: judged as of now
    lo, hi = data_window(doc, f, week)
    view = overview_view(doc, frames, None, f, week)
    figures = view.figures().set_index(["scope", "commitment", "period"])
    versions = as_versions(doc)
    row = week_row(week, doc.timezone)
    at = min(as_of, row["period_end"])
    for scope, label, start, end, moment in (
        ("week", week, row["period_start"], row["period_end"], at),
        ("period", f.period, f.period_start, f.period_end, as_of),
    ):
        assert figures.loc[(scope, "mql-volume", label), "actual"] == len(
            handed_over(frames, start, end, moment)
        )
        assert same(
            figures.loc[(scope, "speed-to-lead", label), "actual"],
            overall(versions, frames, start, end, moment),
        )
    assert lo <= f.period_start and f.period_end <= hi
