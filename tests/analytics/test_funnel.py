"""The cohort funnel: hand-computed stages, times between stages, and agreement with the metrics."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from analytics.agreement import parse_document
from analytics.commitments import evaluate
from analytics.funnel import STAGES, FunnelError, cohort_leads, funnel, funnel_totals
from tests.analytics.conftest import agreement, commitment, make_frames, scenarios, ts

AS_OF = ts("2026-04-20")


def frames_by_hand():
    return make_frames(
        owners=[{"id": 1, "name": "Ann", "external_id": "o-1"}],
        leads=[
            # March cohort
            {"mql_at": ts("2026-03-02"), "sql_at": ts("2026-03-04"), "channel": "Events", "owner_id": 1},
            {"mql_at": ts("2026-03-03"), "sql_at": ts("2026-03-09"), "channel": "Events"},
            {"mql_at": ts("2026-03-04"), "channel": "Webinars"},  # a deal without sql_at: counts as SQL too
            {"mql_at": ts("2026-03-05"), "channel": "Webinars"},
            {"mql_at": ts("2026-03-06"), "sql_at": ts("2026-04-25"), "channel": "Events"},  # SQL after as_of
            # February cohort: one lead, qualified and won
            {"mql_at": ts("2026-02-10"), "sql_at": ts("2026-02-11")},
        ],
        deals=[
            {"lead_id": 1, "created_at": ts("2026-03-06"), "closed_at": ts("2026-03-26"), "is_won": True},
            {"lead_id": 1, "created_at": ts("2026-03-05"), "closed_at": ts("2026-03-20"), "is_won": False},
            {
                "lead_id": 2,
                "created_at": ts("2026-03-10"),
                "closed_at": ts("2026-04-30"),
                "is_won": True,
            },  # later
            {"lead_id": 3, "created_at": ts("2026-03-08")},
            {"lead_id": 6, "created_at": ts("2026-02-12"), "closed_at": ts("2026-02-20"), "is_won": True},
        ],
    )


def test_cohort_stages_rates_and_days_by_hand():
    doc = agreement()
    result = funnel(doc, frames_by_hand(), "2026-01-01", "2026-05-01", AS_OF).set_index("period")
    assert result.index.tolist() == ["2026-01", "2026-02", "2026-03", "2026-04"]  # empty periods too
    march = result.loc["2026-03"]
    assert (march["mql"], march["sql"], march["opportunity"], march["won"]) == (5, 3, 3, 1)
    assert (
        march["mql_to_sql"] == 3 / 5
        and march["sql_to_opportunity"] == 1.0
        and march["opportunity_to_won"] == 1 / 3
    )
    assert march["mql_to_won"] == 1 / 5
    # MQL -> SQL days: 2 and 6 -> median 4. SQL -> opportunity (first deal): 1 (lead 1), 1 (lead 2) -> 1
    assert march["days_mql_to_sql"] == 4.0
    assert march["days_sql_to_opportunity"] == 1.0
    # opportunity -> won: lead 1, first deal 5 March, won deal closed 26 March: 21 days
    assert march["days_opportunity_to_won"] == 21.0
    january = result.loc["2026-01"]
    assert january["mql"] == 0 and math.isnan(january["mql_to_sql"])
    assert result.loc["2026-02", ["mql", "sql", "opportunity", "won"]].tolist() == [1, 1, 1, 1]


def test_breakdowns_and_filters():
    doc = agreement()
    by_channel = funnel(doc, frames_by_hand(), "2026-03-01", "2026-04-01", AS_OF, by="channel").set_index(
        "channel"
    )
    assert by_channel["mql"].to_dict() == {"Events": 3, "Webinars": 2}
    assert by_channel.loc["Webinars", "opportunity"] == 1
    events = funnel(doc, frames_by_hand(), "2026-03-01", "2026-04-01", AS_OF, filters={"channel": ["Events"]})
    assert events["mql"].tolist() == [3]
    by_owner = funnel(doc, frames_by_hand(), "2026-03-01", "2026-04-01", AS_OF, by="owner")
    assert by_owner.set_index("owner")["mql"].to_dict() == {"Ann": 1, "(unassigned)": 4}
    with pytest.raises(FunnelError, match="unknown breakdown by='region'"):
        funnel(doc, frames_by_hand(), "2026-03-01", "2026-04-01", AS_OF, by="region")


def test_funnel_totals():
    doc = agreement()
    totals = funnel_totals(funnel(doc, frames_by_hand(), "2026-01-01", "2026-05-01", AS_OF))
    assert totals["stage"].tolist() == ["MQL", "SQL", "Opportunity", "Won"]
    assert totals["leads"].tolist() == [6, 4, 4, 2]
    assert totals["of_previous"].tolist() == pytest.approx([1, 4 / 6, 1, 0.5])
    assert totals["of_mql"].tolist() == pytest.approx([1, 4 / 6, 4 / 6, 2 / 6])
    empty = funnel_totals(pd.DataFrame({"mql": [0], "sql": [0], "opportunity": [0], "won": [0]}))
    assert empty["of_previous"].isna().all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=[commitment("mqls", "mql_count", 1, owner="marketing")], period="month"))
def test_stages_shrink_and_cohorts_match_the_mql_count(scenario):
    document, frames, as_of = scenario
    doc = parse_document(document)
    cohorts = funnel(doc, frames, "2025-12-01", "2026-08-01", as_of)
    assert (cohorts["mql"] >= cohorts["sql"]).all()
    assert (cohorts["sql"] >= cohorts["opportunity"]).all()
    assert (cohorts["opportunity"] >= cohorts["won"]).all()
    for column in ("mql_to_sql", "sql_to_opportunity", "opportunity_to_won", "mql_to_won"):
        values = cohorts[column].dropna()
        assert ((values >= 0) & (values <= 1)).all()
    mqls = evaluate(doc, frames, "2025-12-01", "2026-08-01", as_of).set_index("period")["actual"]
    assert cohorts.set_index("period")["mql"].astype(float).to_dict() == mqls.to_dict()


def test_cohort_leads_lists_the_leads_of_each_stage_by_hand():
    doc = agreement()
    frames = frames_by_hand()
    ids = {
        stage: cohort_leads(doc, frames, ts("2026-03-15"), AS_OF, stage)["id"].tolist() for stage in STAGES
    }
    # Lead 5's SQL comes after as_of; lead 2's deal is won after as_of; lead 3 is SQL by its deal.
    assert ids == {"mql": [1, 2, 3, 4, 5], "sql": [1, 2, 3], "opportunity": [1, 2, 3], "won": [1]}
    won = cohort_leads(doc, frames, ts("2026-03-15"), AS_OF, "won").iloc[0]
    assert (won["opportunity_at"], won["won_at"]) == (
        ts("2026-03-05"),
        ts("2026-03-26"),
    )  # first deal, first won
    events = cohort_leads(doc, frames, ts("2026-03-15"), AS_OF, "mql", filters={"channel": ["Events"]})
    assert events["id"].tolist() == [1, 2, 5]
    with pytest.raises(FunnelError, match="unknown stage 'deal'"):
        cohort_leads(doc, frames, ts("2026-03-15"), AS_OF, "deal")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=[commitment("mqls", "mql_count", 1, owner="marketing")], period="month"))
def test_cohort_leads_are_what_the_funnel_counts(scenario):
    document, frames, as_of = scenario
    doc = parse_document(document)
    cohorts = funnel(doc, frames, "2025-12-01", "2026-08-01", as_of)
    for row in cohorts.itertuples(index=False):
        for stage in STAGES:
            listed = cohort_leads(doc, frames, row.period_start, as_of, stage)
            assert len(listed) == getattr(row, stage) and listed["id"].is_unique, (row.period, stage)
            assert listed["mql_at"].between(row.period_start, row.period_end, inclusive="left").all()
