"""Slices never change links: links are resolved on the whole data, then rows are selected.

The invariants (issue 13, item 2): the breakdown rows of an additive figure partition the
unfiltered total, and a filtered view equals its breakdown row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings

from analytics.agreement import parse_document
from analytics.commitments import evaluate
from analytics.funnel import funnel
from analytics.slicing import slice_frames
from tests.analytics.conftest import agreement, commitment, make_frames, scenarios, ts

AS_OF = ts("2026-03-31 12:00")
MARCH = ("2026-03-01", "2026-04-01")
PROPERTY_COMMITMENTS = [
    commitment("mqls", "mql_count", 3, owner="marketing"),
    commitment("sqls", "sql_count", 1, owner="marketing"),
    commitment("pipe", "sourced_pipeline", 5000, owner="marketing"),
    commitment("won", "won_revenue", 5000, owner="marketing"),
    commitment("speed", "followed_up_within", 0.8, params={"business_hours": 4}),
    commitment("accept", "acceptance_rate", 0.5, owner="marketing"),
    commitment("touch", "touches_within", 0.5, params={"touches": 2, "business_days": 2}),
    commitment("settle", "dispositioned_within", 0.5, params={"business_days": 2}),
    commitment("p90", "response_time_p90", 8),
]
ADDITIVE = ("mqls", "sqls", "pipe", "won")
FIGURES = ["n", "actual", "met", "breached", "pending"]


def _run(doc, frames, by=None, as_of=AS_OF, window=MARCH):
    return evaluate(doc, frames, *window, as_of, by=by)


def test_a_deal_whose_lead_is_outside_the_team_filter_stays_marketing_sourced():
    doc = agreement(commitments=[commitment("pipe", "sourced_pipeline", 100, owner="marketing")])
    frames = make_frames(
        leads=[{"mql_at": ts("2026-03-02 10:00"), "team": "Americas", "channel": "Events"}],
        deals=[{"lead_id": 1, "created_at": ts("2026-03-05 10:00"), "amount": 900.0, "team": "EMEA"}],
    )
    sliced = _run(doc, slice_frames(frames, teams=["EMEA"]))
    assert sliced["actual"].tolist() == [900.0]


def test_a_reps_touches_count_activities_logged_by_anyone_on_the_lead():
    doc = agreement(
        commitments=[commitment("touch", "touches_within", 0.5, params={"touches": 2, "business_days": 2})]
    )
    frames = make_frames(
        leads=[{"mql_at": ts("2026-03-02 10:00"), "owner_id": 1}],
        activities=[
            {"lead_id": 1, "owner_id": 1, "occurred_at": ts("2026-03-02 11:00"), "kind": "call"},
            {"lead_id": 1, "owner_id": 2, "occurred_at": ts("2026-03-02 12:00"), "kind": "email"},  # an SDR
        ],
        owners=[{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bo"}],
    )
    filtered = _run(doc, slice_frames(frames, owners=[1]))
    by_owner = _run(doc, frames, by="owner")
    assert filtered["actual"].tolist() == [1.0]
    assert by_owner.loc[by_owner["owner_id"] == 1, "actual"].tolist() == [1.0]


def test_a_deal_takes_its_leads_channel_and_its_own_only_without_a_lead():
    doc = agreement(commitments=[commitment("pipe", "won_revenue", None, owner="marketing")])
    frames = make_frames(
        leads=[{"mql_at": ts("2026-03-02 10:00"), "channel": "Events"}],
        deals=[
            {"lead_id": 1, "channel": "Paid Search", "created_at": ts("2026-03-05"), "closed_at": ts("2026-03-06"),
             "is_won": True, "is_closed": True, "amount": 10.0},
            {"lead_id": None, "channel": "Paid Search", "created_at": ts("2026-03-05"),
             "closed_at": ts("2026-03-06"), "is_won": True, "is_closed": True, "amount": 1.0},
        ],
    )  # fmt: skip
    assert _run(doc, slice_frames(frames, channels=["Events"]))["actual"].tolist() == [10.0]
    assert _run(doc, slice_frames(frames, channels=["Paid Search"]))["actual"].tolist() == [1.0]
    rows = _run(doc, frames, by="channel").set_index("channel")["actual"].to_dict()
    assert rows == {"Events": 10.0, "Paid Search": 1.0}


def test_a_lead_reaches_opportunity_in_its_owners_funnel_whoever_owns_the_deal():
    doc = agreement()
    frames = make_frames(
        leads=[{"mql_at": ts("2026-03-02 10:00"), "owner_id": 1}],
        deals=[{"lead_id": 1, "owner_id": 2, "created_at": ts("2026-03-05")}],
        owners=[{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bo"}],
    )
    sliced = funnel(doc, slice_frames(frames, owners=[1]), *MARCH, AS_OF)
    assert sliced["opportunity"].tolist() == [1]


def _keys(by):
    return ["commitment", "period"] + (["owner_id"] if by == "owner" else [by] if by else [])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=PROPERTY_COMMITMENTS, max_leads=16))
def test_breakdown_rows_partition_the_total_and_a_slice_equals_its_row(scenario):
    document, frames, as_of = scenario
    doc = parse_document(document)
    window = ("2026-01-01", "2026-07-01")
    total = _run(doc, frames, as_of=as_of, window=window)
    for by, kind in (("team", "teams"), ("owner", "owners"), ("channel", "channels")):
        rows = _run(doc, frames, by=by, as_of=as_of, window=window)
        # Additive figures: the breakdown rows add up to the unfiltered total.
        additive = total[total["commitment"].isin(ADDITIVE)].set_index(["commitment", "period"])["actual"]
        summed = rows[rows["commitment"].isin(ADDITIVE)].groupby(["commitment", "period"])["actual"].sum()
        np.testing.assert_allclose(summed.reindex(additive.index).fillna(0), additive, atol=1e-6)
        # Each named group: the view filtered to it equals its breakdown row.
        column = "owner_id" if by == "owner" else by
        for value in rows[column].dropna().unique():
            if value == "(none)":
                continue
            chosen = int(value) if by == "owner" else value
            filtered = _run(doc, slice_frames(frames, **{kind: [chosen]}), as_of=as_of, window=window)
            filtered = filtered[filtered["n"] > 0].set_index(["commitment", "period"])[FIGURES]
            row = rows[rows[column] == value].set_index(["commitment", "period"])[FIGURES]
            pd.testing.assert_frame_equal(
                filtered.sort_index(), row.sort_index(), check_dtype=False, obj=f"{by}={value}"
            )


def test_on_the_demo_breakdowns_partition_the_total_and_each_slice_equals_its_row():
    import datetime as dt

    from analytics.agreement import parse_agreement
    from bootstrap import DEFAULT_AGREEMENT
    from connectors.demo import generate

    today = dt.date(2026, 11, 27)
    frames = generate(3_000, today=today)
    doc = parse_agreement(DEFAULT_AGREEMENT.read_text())
    as_of = pd.Timestamp(today, tz="UTC")
    window = (as_of - pd.DateOffset(months=3), as_of)
    total = _run(doc, frames, as_of=as_of, window=window)
    additive = total[total["kind"].isin(["count", "amount"])].set_index(["commitment", "period"])["actual"]
    for by, kind in (("team", "teams"), ("owner", "owners"), ("channel", "channels")):
        rows = _run(doc, frames, by=by, as_of=as_of, window=window)
        summed = (
            rows[rows["kind"].isin(["count", "amount"])].groupby(["commitment", "period"])["actual"].sum()
        )
        np.testing.assert_allclose(summed.reindex(additive.index).fillna(0), additive, rtol=1e-9)
        column = "owner_id" if by == "owner" else by
        for value in rows[column].dropna().unique()[:3]:
            chosen = int(value) if by == "owner" else value
            filtered = _run(doc, slice_frames(frames, **{kind: [chosen]}), as_of=as_of, window=window)
            filtered = filtered[filtered["n"] > 0].set_index(["commitment", "period"])[FIGURES]
            row = rows[rows[column] == value].set_index(["commitment", "period"])[FIGURES]
            pd.testing.assert_frame_equal(filtered.sort_index(), row.sort_index(), check_dtype=False)
