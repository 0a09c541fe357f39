"""Commitment evaluation: status, pacing, gap, versions, breakdowns, and properties over random frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.agreement import AgreementVersion, parse_document
from analytics.commitments import RESULT_COLUMNS, EvaluationError, as_versions, daily_progress, evaluate
from tests.analytics.conftest import BASE_DOCUMENT, agreement, commitment, make_frames, scenarios, ts

# UTC, Mon-Fri 09:00-17:00: a week holds 40 business hours. 2026-03-02 is a Monday.
WEDNESDAY_1300 = ts("2026-03-04 13:00")  # 8 + 8 + 4 = 20 of 40 hours: half the week has elapsed


def week_frames(counts: dict[str, int]) -> dict[str, pd.DataFrame]:
    leads = []
    for channel, count in counts.items():
        leads += [{"mql_at": ts("2026-03-02 10:00"), "channel": channel}] * count
    return make_frames(leads=leads)


def test_current_period_counts_are_paced_by_elapsed_business_time():
    doc = agreement(
        period="week",
        commitments=[
            commitment(c, "mql_count", 100, owner="marketing", filters={"channel": [c]})
            for c in ("a", "b", "c", "d")
        ],
    )
    frames = week_frames({"a": 50, "b": 45, "c": 44, "d": 120})
    result = evaluate(doc, frames, "2026-03-02", "2026-03-09", WEDNESDAY_1300).set_index("commitment")
    assert result["period"].unique().tolist() == ["2026-W10"]
    assert (result["period_state"] == "current").all()
    assert result["elapsed_share"].tolist() == [0.5] * 4
    assert result["expected_to_date"].tolist() == [50.0] * 4
    assert result["projection"].tolist() == [100.0, 90.0, 88.0, 240.0]
    assert result["status"].tolist() == ["on track", "at risk", "off track", "on track"]
    # 55 missing, half a business week left -> 110 a week; reached -> 0
    assert result.loc["b", "needed_per_week"] == pytest.approx(110.0)
    assert result.loc["d", "needed_per_week"] == 0.0
    assert result.loc["b", "gap"] == -55.0 and result.loc["b", "gap_pct"] == pytest.approx(-0.55)
    assert result.loc["d", "gap"] == 20.0


def test_current_rates_and_durations_stand_as_they_are():
    doc = agreement(
        period="week",
        commitments=[
            commitment("speed", "followed_up_within", 0.9, params={"business_hours": 1}),
            commitment("median", "response_time_median", 0.5),
            commitment("median-loose", "response_time_median", 0.46),
            commitment("median-tight", "response_time_median", 0.45),
        ],
    )
    # 10 leads Monday 09:00; 9 touched within 0.5 h, one after 2 h: rate 0.9; median 0.5 h
    leads = [{"mql_at": ts("2026-03-02 09:00"), "first_touch_at": ts("2026-03-02 09:30")}] * 9
    leads += [{"mql_at": ts("2026-03-02 09:00"), "first_touch_at": ts("2026-03-02 11:00")}]
    result = evaluate(doc, make_frames(leads=leads), "2026-03-02", "2026-03-09", WEDNESDAY_1300)
    result = result.set_index("commitment")
    assert result.loc["speed", "actual"] == 0.9 and result.loc["speed", "projection"] == 0.9
    assert result.loc["speed", "status"] == "on track"
    assert result.loc["speed", "expected_to_date"] == 0.9
    assert result.loc["median", "status"] == "on track"  # lower is better: 0.5 h against 0.5 h
    assert result.loc["median-loose", "status"] == "at risk"  # 0.5 <= 0.46 x 1.1
    assert result.loc["median-tight", "status"] == "off track"  # 0.5 > 0.45 x 1.1
    assert result.loc["median", "lower_is_better"]
    assert math.isnan(result.loc["speed", "needed_per_week"])


def test_closed_periods_are_met_or_missed():
    doc = agreement(
        commitments=[
            commitment("volume", "mql_count", 2, owner="marketing"),
            commitment("slow", "response_time_median", 1.0),
            commitment("zero", "mql_count", 0, owner="marketing"),
        ]
    )
    leads = [
        {"mql_at": ts("2026-01-05 09:00"), "first_touch_at": ts("2026-01-05 09:30")},
        {"mql_at": ts("2026-01-05 09:00"), "first_touch_at": ts("2026-01-05 10:00")},
        {"mql_at": ts("2026-02-02 09:00"), "first_touch_at": ts("2026-02-02 11:00")},
    ]
    result = evaluate(doc, make_frames(leads=leads), "2026-01-01", "2026-03-01", ts("2026-03-10"))
    status = result.set_index(["commitment", "period"])["status"].to_dict()
    assert status[("volume", "2026-01")] == "met"  # 2 of 2
    assert status[("volume", "2026-02")] == "missed"  # 1 of 2
    assert status[("slow", "2026-01")] == "met"  # median 0.75 h <= 1 h
    assert status[("slow", "2026-02")] == "missed"  # 2 h > 1 h
    zero = result[result["commitment"] == "zero"]
    assert zero["status"].tolist() == ["met", "met"] and zero["gap_pct"].isna().all()
    assert (result["period_state"] == "closed").all()
    closed = result[result["commitment"] == "volume"]
    assert closed["projection"].tolist() == closed["actual"].tolist()
    assert closed["expected_to_date"].tolist() == [2.0, 2.0]


def test_pending_no_data_and_no_target():
    doc = agreement(
        commitments=[
            commitment("speed", "followed_up_within", 0.9, params={"business_hours": 8}),
            commitment("watch", "mql_count", None, owner="marketing"),
        ]
    )
    # one lead handed over in March, untouched, limit not yet passed at as_of
    frames = make_frames(leads=[{"mql_at": ts("2026-03-20 09:00")}])
    result = evaluate(doc, frames, "2026-02-01", "2026-04-01", ts("2026-03-20 12:00"))
    status = result.set_index(["commitment", "period"])["status"].to_dict()
    assert status[("speed", "2026-02")] == "no data"  # closed, nothing to measure
    assert status[("speed", "2026-03")] == "pending"  # current, nothing decided yet
    assert status[("watch", "2026-03")] == "no target"
    row = result[(result["commitment"] == "speed") & (result["period"] == "2026-03")].iloc[0]
    assert (row["met"], row["breached"], row["pending"]) == (0, 0, 1)


def test_future_periods_are_left_out_and_columns_are_complete():
    result = evaluate(agreement(), make_frames(), "2026-01-01", "2027-01-01", ts("2026-03-10"))
    assert result["period"].tolist() == ["2026-01", "2026-02", "2026-03"]
    assert list(result.columns) == RESULT_COLUMNS
    assert result["actual"].tolist() == [0.0, 0.0, 0.0]
    assert str(result["period_start"].dtype) == "datetime64[us, UTC]"
    assert str(result["version"].dtype) == "Int64"


# --- versions ------------------------------------------------------------------------------------


def versions_of(*specs):
    out = []
    for number, (effective, document) in enumerate(specs, start=1):
        out.append(
            AgreementVersion(
                agreement=document.name,
                version=number,
                effective_from=ts(effective),
                document=document,
                author="test",
                reason="test",
                created_at=ts(effective),
            )  # fmt: skip
        )
    return out


def test_each_period_is_judged_by_the_version_in_force_when_it_started():
    v1 = agreement(commitments=[commitment("volume", "mql_count", 1, owner="marketing")])
    v2 = agreement(
        commitments=[
            commitment("volume", "mql_count", 5, owner="marketing"),
            commitment("speed", "followed_up_within", 0.9, params={"business_hours": 4}),
        ]
    )
    versions = versions_of(("2026-01-01", v1), ("2026-03-15", v2))
    leads = [{"mql_at": ts(f"2026-{m:02d}-10 10:00")} for m in (1, 2, 3, 4)] * 2
    result = evaluate(versions, make_frames(leads=leads), "2025-12-01", "2026-05-01", ts("2026-04-20"))
    volume = result[result["commitment"] == "volume"].set_index("period")
    assert pd.isna(volume["version"].iloc[0])
    assert volume["version"].iloc[1:].tolist() == [1, 1, 1, 2]
    assert volume["target"].iloc[1:].tolist() == [1.0, 1.0, 1.0, 5.0]  # March started under version 1
    assert volume.loc["2025-12", "status"] == "no target"  # before the first version: actuals only
    assert volume.loc["2026-03", "status"] == "met"
    assert volume.loc["2026-04", "status"] == "off track"  # 2 of 5, two thirds through April
    speed = result[result["commitment"] == "speed"]
    assert speed["period"].tolist() == ["2026-04"]  # the commitment only exists from version 2 on


def test_a_period_judged_by_a_version_with_another_period_length_has_no_target():
    monthly = agreement(commitments=[commitment("volume", "mql_count", 30, owner="marketing")])
    weekly = agreement(period="week", commitments=[commitment("volume", "mql_count", 7, owner="marketing")])
    versions = versions_of(("2026-01-01", monthly), ("2026-03-02", weekly))
    result = evaluate(versions, make_frames(), "2026-02-23", "2026-03-09", ts("2026-03-04"))
    assert result["period"].tolist() == ["2026-W09", "2026-W10"]  # the grid of the version in force now
    assert result["status"].tolist() == ["no target", "off track"]  # 0 after 16 of 40 hours
    assert result["target"].iloc[1] == 7.0


def test_as_versions_checks_its_input():
    doc = agreement()
    assert as_versions(doc)[0].version == 1
    with pytest.raises(EvaluationError, match="no agreement version"):
        as_versions([])
    other = parse_document({**BASE_DOCUMENT, "name": "Other"})
    with pytest.raises(EvaluationError, match="different agreements"):
        as_versions(versions_of(("2026-01-01", doc)) + versions_of(("2026-02-01", other)))
    with pytest.raises(EvaluationError, match="expected AgreementVersion"):
        as_versions([doc])


# --- breakdowns ----------------------------------------------------------------------------------


def test_breakdown_by_owner_keeps_rate_targets_and_drops_count_targets():
    doc = agreement(
        commitments=[
            commitment("volume", "mql_count", 3, owner="marketing"),
            commitment("speed", "followed_up_within", 0.5, params={"business_hours": 1}),
        ]
    )
    frames = make_frames(
        owners=[
            {"id": 1, "name": "Ann", "external_id": "o-1"},
            {"id": 2, "name": "Bo", "external_id": "o-2"},
        ],
        leads=[
            {"mql_at": ts("2026-02-02 09:00"), "owner_id": 1, "first_touch_at": ts("2026-02-02 09:30")},
            {"mql_at": ts("2026-02-02 09:00"), "owner_id": 1, "first_touch_at": ts("2026-02-02 11:00")},
            {"mql_at": ts("2026-02-02 09:00"), "owner_id": 2, "first_touch_at": ts("2026-02-02 09:10")},
            {"mql_at": ts("2026-02-02 09:00"), "owner_id": None},
        ],
    )
    result = evaluate(doc, frames, "2026-02-01", "2026-03-01", ts("2026-03-05"), by="owner")
    speed = result[result["commitment"] == "speed"].set_index("owner")
    assert speed["actual"].to_dict() == {"Ann": 0.5, "Bo": 1.0, "(unassigned)": 0.0}
    assert speed["status"].to_dict() == {"Ann": "met", "Bo": "met", "(unassigned)": "missed"}
    assert (speed.loc["Ann", "owner_id"], speed.loc["Bo", "owner_id"]) == (1, 2)
    assert pd.isna(speed.loc["(unassigned)", "owner_id"])
    volume = result[result["commitment"] == "volume"]
    assert volume["status"].unique().tolist() == ["no target"] and volume["actual"].sum() == 4


def test_breakdown_by_team_and_channel_and_a_bad_breakdown():
    doc = agreement(commitments=[commitment("volume", "mql_count", 3, owner="marketing")])
    frames = make_frames(
        leads=[
            {"mql_at": ts("2026-02-02"), "team": "EMEA", "channel": "Events"},
            {"mql_at": ts("2026-02-03"), "team": "EMEA", "channel": None},
            {"mql_at": ts("2026-02-04"), "team": None, "channel": "Events"},
        ]
    )
    by_team = evaluate(doc, frames, "2026-02-01", "2026-03-01", ts("2026-03-05"), by="team")
    assert by_team.set_index("team")["actual"].to_dict() == {"EMEA": 2.0, "(none)": 1.0}
    by_channel = evaluate(doc, frames, "2026-02-01", "2026-03-01", ts("2026-03-05"), by="channel")
    assert by_channel.set_index("channel")["actual"].to_dict() == {"Events": 2.0, "(none)": 1.0}
    with pytest.raises(EvaluationError, match="unknown breakdown by='rep'"):
        evaluate(doc, frames, "2026-02-01", "2026-03-01", ts("2026-03-05"), by="rep")


# --- daily progress ------------------------------------------------------------------------------


def test_daily_progress_cumulates_by_local_day_with_the_expected_line():
    doc = agreement(
        period="week",
        timezone="Europe/Berlin",
        commitments=[commitment("volume", "mql_count", 40, owner="marketing")],
    )
    leads = [
        {"mql_at": ts("2026-03-02 08:00", "Europe/Berlin")},
        {"mql_at": ts("2026-03-02 23:30", "Europe/Berlin")},  # 22:30 UTC, still Monday in Berlin
        {"mql_at": ts("2026-03-04 12:00", "Europe/Berlin")},
        {"mql_at": ts("2026-03-06 12:00", "Europe/Berlin")},  # after as_of: not known yet
    ]
    progress = daily_progress(
        doc, make_frames(leads=leads), "volume", ts("2026-03-03"), ts("2026-03-04 13:00", "Europe/Berlin")
    )
    assert len(progress) == 7
    assert progress["actual"].tolist()[:3] == [2.0, 0.0, 1.0]
    assert progress["cumulative"].tolist()[:3] == [2.0, 2.0, 3.0]
    assert progress["cumulative"].iloc[3:].isna().all()
    # expected: 40 x share; Monday's end: 8 of 40 h; Wednesday (as of 13:00): 20 of 40 h; Sunday: all
    assert progress["expected"].tolist() == pytest.approx([8, 16, 20, 32, 40, 40, 40])
    assert (progress["target"] == 40).all()


def test_daily_progress_is_for_counts_and_amounts():
    doc = agreement(
        commitments=[commitment("speed", "followed_up_within", 0.9, params={"business_hours": 4})]
    )
    with pytest.raises(EvaluationError, match="counts and amounts; 'speed' is a rate"):
        daily_progress(doc, make_frames(), "speed", ts("2026-03-03"), ts("2026-03-04"))
    with pytest.raises(EvaluationError, match="commitment 'nope' is not in the agreement"):
        daily_progress(doc, make_frames(), "nope", ts("2026-03-03"), ts("2026-03-04"))


# --- properties ----------------------------------------------------------------------------------

PROPERTY_COMMITMENTS = [
    commitment("mqls", "mql_count", 3, owner="marketing"),
    commitment("sqls", "sql_count", 1, owner="marketing"),
    commitment("pipe", "sourced_pipeline", 5000, owner="marketing"),
    commitment("won", "won_revenue", 5000, owner="marketing"),
    commitment("speed", "followed_up_within", 0.8, params={"business_hours": 4}),
    commitment("accept", "acceptance_rate", 0.5, owner="marketing"),
    commitment("touch", "touches_within", 0.5, params={"touches": 2, "business_days": 2}),
    commitment("p90", "response_time_p90", 8),
]


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["commitment", "period_start"]).reset_index(drop=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=PROPERTY_COMMITMENTS), st.randoms(use_true_random=False))
def test_row_order_does_not_change_results(scenario, rng):
    document, frames, as_of = scenario
    doc = parse_document(document)
    shuffled = {
        name: frame.sample(frac=1.0, random_state=rng.randint(0, 10**6)) for name, frame in frames.items()
    }
    a = evaluate(doc, frames, "2025-12-01", "2026-07-01", as_of)
    b = evaluate(doc, shuffled, "2025-12-01", "2026-07-01", as_of)
    pd.testing.assert_frame_equal(_comparable(a), _comparable(b))
    rates = a[a["kind"] == "rate"]["actual"].dropna()
    assert ((rates >= 0) & (rates <= 1)).all()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=PROPERTY_COMMITMENTS, period="month"))
def test_monthly_counts_and_amounts_sum_to_the_quarter(scenario):
    document, frames, as_of = scenario
    monthly = evaluate(parse_document(document), frames, "2025-10-01", "2026-10-01", as_of)
    quarterly = evaluate(
        parse_document({**document, "period": "quarter"}), frames, "2025-10-01", "2026-10-01", as_of
    )
    for frame in (monthly, quarterly):
        frame["quarter"] = [
            f"{s.year}-Q{(s.month - 1) // 3 + 1}"
            for s in frame["period_start"].dt.tz_convert(document["timezone"])
        ]
    summable = ["mqls", "sqls", "pipe", "won"]
    months = monthly[monthly["commitment"].isin(summable)].groupby(["commitment", "quarter"])["actual"].sum()
    quarters = quarterly[quarterly["commitment"].isin(summable)].set_index(["commitment", "quarter"])[
        "actual"
    ]
    pd.testing.assert_series_equal(months.sort_index(), quarters.sort_index(), check_names=False, rtol=1e-9)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(commitments=PROPERTY_COMMITMENTS, period="week"), st.integers(0, 10**6))
def test_weekly_counts_sum_to_the_month_when_weeks_lie_inside_it(scenario, seed):
    document, frames, _ = scenario
    tz = document["timezone"]
    # Move every handover into March 2026's four whole weeks (Mon 2 - Sun 29 March, local time).
    start = ts("2026-03-02", tz)
    span = (ts("2026-03-30", tz) - start).total_seconds()
    rng = np.random.default_rng(seed)
    leads = frames["leads"].copy()
    offsets = pd.to_timedelta(rng.uniform(0, span, len(leads)).round(), unit="s")
    leads["mql_at"] = (start + offsets).astype("datetime64[us, UTC]").where(leads["mql_at"].notna())
    frames = {**frames, "leads": leads}
    as_of = ts("2026-04-15")
    weekly = evaluate(parse_document(document), frames, "2026-03-02", "2026-03-30", as_of)
    monthly = evaluate(
        parse_document({**document, "period": "month"}), frames, "2026-03-01", "2026-04-01", as_of
    )
    assert len(weekly["period"].unique()) == 4
    for cid in ("mqls", "sqls"):
        total = weekly[weekly["commitment"] == cid]["actual"].sum()
        assert total == monthly[monthly["commitment"] == cid]["actual"].iloc[0]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenarios(commitments=PROPERTY_COMMITMENTS, period="month"),
    st.integers(1, 150),
    st.floats(0, 1),
)
def test_a_target_changed_in_a_later_version_never_changes_an_earlier_period(scenario, day, new_rate):
    document, frames, as_of = scenario
    first = parse_document(document)
    changed = [
        {
            **c,
            "target": (
                new_rate
                if c["metric"] in ("followed_up_within", "acceptance_rate", "touches_within")
                else c["target"] * 7
            ),
        }  # fmt: skip
        for c in PROPERTY_COMMITMENTS
    ]
    second = parse_document({**document, "commitments": changed})
    effective = ts("2026-01-01") + pd.Timedelta(days=day)
    before = evaluate(versions_of(("2025-06-01", first)), frames, "2025-12-01", "2026-07-01", as_of)
    after = evaluate(
        versions_of(("2025-06-01", first), (str(effective), second)),
        frames,
        "2025-12-01",
        "2026-07-01",
        as_of,
    )
    # Periods that started before the change are judged by the first version, whatever the second says.
    pd.testing.assert_frame_equal(
        _comparable(before[before["period_start"] < effective]),
        _comparable(after[after["period_start"] < effective]),
    )


def test_an_evaluation_before_any_period_started_is_empty_with_the_same_columns_and_dtypes():
    frames = make_frames(leads=[{"mql_at": ts("2026-03-02")}])
    full = evaluate(agreement(), frames, "2026-03-01", "2026-04-01", ts("2026-03-05"), by="owner")
    empty = evaluate(agreement(), frames, "2026-03-01", "2026-04-01", ts("2026-02-05"), by="owner")
    assert empty.empty
    assert empty.dtypes.astype(str).to_dict() == full.dtypes.astype(str).to_dict()
