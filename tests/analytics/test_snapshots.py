"""Weekly figures: ISO weeks, prorated targets, weeks judged at their close, records, corrections, gaps."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import wording
from analytics.agreement import AgreementVersion, parse_document
from analytics.commitments import evaluate
from analytics.periods import WeekError, last_closed_week, parse_week, shift_week, week_of, weeks_between
from analytics.snapshots import (
    FIGURE_FIELDS,
    SnapshotError,
    biggest_gaps,
    compare_figures,
    evaluate_weeks,
    figures_frame,
    overview_window,
    to_records,
    week_figures,
    week_over_week,
    week_overview,
    week_share,
    week_version,
)
from analytics.windows import cut_window
from analytics.wording import format_change, gap_sentence
from tests.analytics.conftest import agreement, commitment, make_frames, scenarios, ts
from views.overview import scoreboard

# UTC, Mon-Fri 09:00-17:00 (8 business hours a day). November 2026 has 21 working days, December 23.
MONTHLY = [
    commitment("mql-volume", "mql_count", 210, owner="marketing"),
    commitment("speed-to-lead", "followed_up_within", 0.5, params={"business_hours": 4}),
]
W47 = "2026-W47"  # Mon 16 - Sun 22 November 2026
THURSDAY_W48 = ts("2026-11-26 13:00")  # W48: Mon 23 - Sun 29 November


def doc(**overrides):
    return agreement(commitments=overrides.pop("commitments", MONTHLY), **overrides)


def version(document, number=1, effective_from="1970-01-01T00:00:00Z") -> AgreementVersion:
    return AgreementVersion(
        agreement=document.name, version=number, effective_from=pd.Timestamp(effective_from),
        document=document, created_at=pd.Timestamp("2026-01-01T00:00:00Z"),
    )  # fmt: skip


def leads_at(*moments: str, **columns) -> list[dict]:
    return [{"mql_at": ts(m), **columns} for m in moments]


# ----------------------------------------------------------------------------- weeks


def test_weeks_are_iso_weeks_in_the_agreement_timezone():
    assert parse_week("2026-W01") == dt.date(2025, 12, 29)
    assert week_of(ts("2026-11-29 23:30"), "UTC") == "2026-W48"
    assert week_of(ts("2026-11-29 23:30"), "Europe/Berlin") == "2026-W49"  # already Monday in Berlin
    assert last_closed_week(ts("2026-11-23 00:00"), "UTC") == "2026-W47"
    assert shift_week("2026-W53", 1) == "2027-W01"
    assert weeks_between("2026-11-23", "2026-11-30", "UTC") == ["2026-W48"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-48", "not an ISO week"),
        ("W48", "not an ISO week"),
        ("2025-W53", "2025 has no week 53"),
        ("", "2026-W48"),
    ],
)
def test_a_bad_week_label_says_what_is_wrong(text, says):
    with pytest.raises(WeekError, match=says):
        parse_week(text)


# ----------------------------------------------------------------------------- prorated targets


def test_a_week_inside_a_month_gets_its_share_of_working_days():
    share = week_share(doc(), ts("2026-11-23"), ts("2026-11-30"))
    assert share == pytest.approx(5 / 21)


def test_a_week_across_two_months_adds_its_share_of_each():
    # W49: Monday 30 November (1 of 21) + Tuesday to Friday 1-4 December (4 of 23).
    assert week_share(doc(), ts("2026-11-30"), ts("2026-12-07")) == pytest.approx(1 / 21 + 4 / 23)


def test_a_weekly_agreement_keeps_its_target():
    assert week_share(doc(period="week"), ts("2026-11-23"), ts("2026-11-30")) == 1.0


@settings(max_examples=60, deadline=None)
@given(
    monday=st.dates(dt.date(2025, 1, 6), dt.date(2027, 11, 29)).map(
        lambda d: d - dt.timedelta(days=d.weekday())
    ),
    holidays=st.lists(st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)), max_size=12, unique=True),
    period=st.sampled_from(["month", "quarter"]),
)
def test_week_share_matches_counting_working_days(monday, holidays, period):
    """Oracle: with whole-day working hours in UTC, the share is a ratio of numpy business-day counts."""
    document = doc(period=period, calendar={"workdays": ["mon", "tue", "wed", "thu", "fri"],
                                            "hours": ["00:00", "24:00"], "holidays": holidays})  # fmt: skip
    sunday_next = monday + dt.timedelta(days=7)
    expected = 0.0
    first = pd.Timestamp(monday).to_period("M" if period == "month" else "Q")
    for p in {first, pd.Timestamp(sunday_next - dt.timedelta(days=1)).to_period(first.freqstr)}:
        lo, hi = p.start_time.date(), (p.end_time + pd.Timedelta(microseconds=1)).date()
        whole = np.busday_count(lo, hi, holidays=holidays)
        part = np.busday_count(max(lo, monday), min(hi, sunday_next), holidays=holidays)
        expected += part / whole if whole else (min(hi, sunday_next) - max(lo, monday)).days / (hi - lo).days
    assert week_share(document, ts(str(monday)), ts(str(sunday_next))) == pytest.approx(expected)


def test_counts_get_the_prorated_target_and_rates_their_own():
    weekly = week_version([version(doc())], ts("2026-11-23"), ts("2026-11-30")).document
    targets = {c.id: c.target for c in weekly.commitments}
    assert weekly.period == "week"
    assert targets == {"mql-volume": pytest.approx(210 * 5 / 21), "speed-to-lead": 0.5}


def test_the_week_is_judged_by_the_version_in_force_at_its_start():
    old, new = doc(), doc(commitments=[commitment("mql-volume", "mql_count", 420, owner="marketing")])
    versions = [version(old), version(new, 2, "2026-11-25T00:00:00Z")]  # changed on the Wednesday
    assert week_version(versions, ts("2026-11-23"), ts("2026-11-30")).document.commitments[0].target == 50
    assert week_version(versions, ts("2026-11-30"), ts("2026-12-07")).document.commitments[0].target == (
        pytest.approx(420 * (1 / 21 + 4 / 23))
    )


def test_a_week_before_the_first_version_has_no_target():
    versions = [version(doc(), 1, "2026-11-30T00:00:00Z")]
    frames = make_frames(leads=leads_at("2026-11-24 10:00"))
    rows = evaluate_weeks(versions, frames, ["2026-W48"], ts("2026-12-01 12:00"))
    assert set(rows["status"]) == {"no target"}
    assert rows.set_index("commitment").loc["mql-volume", "actual"] == 1


# ----------------------------------------------------------------------------- weeks judged at their close


def test_a_closed_week_stands_as_it_was_at_its_close_and_the_current_week_is_paced():
    frames = make_frames(
        leads=[
            # W47: touched in time, touched late (on Monday of W48), touched in time
            {"mql_at": ts("2026-11-16 10:00"), "first_touch_at": ts("2026-11-16 11:00")},
            {"mql_at": ts("2026-11-20 16:00"), "first_touch_at": ts("2026-11-23 15:00")},
            {"mql_at": ts("2026-11-18 09:00"), "first_touch_at": ts("2026-11-18 09:30")},
            # W48 so far
            {"mql_at": ts("2026-11-23 10:00"), "first_touch_at": ts("2026-11-23 10:30")},
        ]
    )
    rows = evaluate_weeks([version(doc())], frames, [W47, "2026-W48"], THURSDAY_W48)
    week47 = rows[rows["period"] == W47].set_index("commitment")
    week48 = rows[rows["period"] == "2026-W48"].set_index("commitment")
    # Counts stand as at W47's close; its rate is read as known now: the Friday lead, pending at the close,
    # was touched after its 4 hours, and the week has settled (its last window ran out on Monday).
    assert week47.loc["speed-to-lead", ["met", "breached", "pending"]].tolist() == [2, 1, 0]
    assert week47.loc["speed-to-lead", ["period_state", "status"]].tolist() == ["closed", "met"]
    assert week47.loc["mql-volume", "period_state"] == "closed"
    assert week47.loc["mql-volume", "as_of"] == ts("2026-11-23 00:00")
    assert week47.loc["speed-to-lead", "as_of"] == THURSDAY_W48
    # At the close itself the rate was provisional: no met / missed while a window is open.
    at_close = evaluate_weeks([version(doc())], frames, [W47], ts("2026-11-23 00:00")).set_index("commitment")
    assert at_close.loc["speed-to-lead", ["status", "pending"]].tolist() == ["provisional", 1]
    # W48: 3.5 of 5 business days gone at Thursday 13:00 -> 1 lead projects to 1 / 0.7.
    assert week48.loc["mql-volume", "period_state"] == "current"
    assert week48.loc["mql-volume", "elapsed_share"] == pytest.approx(28 / 40)
    assert week48.loc["mql-volume", "projection"] == pytest.approx(40 / 28)
    assert week48.loc["mql-volume", "target"] == pytest.approx(50)
    assert week48.loc["mql-volume", "status"] == "off track"


def test_a_week_that_has_not_started_is_left_out_and_cannot_be_frozen():
    frames = make_frames()
    assert evaluate_weeks([version(doc())], frames, ["2026-W49"], THURSDAY_W48).empty
    with pytest.raises(SnapshotError, match="2026-W49 has not started"):
        week_figures([version(doc())], frames, "2026-W49", THURSDAY_W48)


def test_a_week_without_leads_is_a_sentence_not_an_error():
    rows = evaluate_weeks([version(doc())], make_frames(), [W47], THURSDAY_W48).set_index("commitment")
    assert rows.loc["mql-volume", ["actual", "status"]].tolist() == [0.0, "missed"]
    assert rows.loc["speed-to-lead", "status"] == "no data"
    assert "no target" in gap_sentence(
        {**rows.loc["mql-volume"].to_dict(), "commitment": "x", "target": None}
    )


EVERY_METRIC = [
    commitment("mql", "mql_count", 5, owner="marketing", filters={"channel": ["Events"]}),
    commitment("sql", "sql_count", 3, owner="marketing"),
    commitment("pipe", "sourced_pipeline", 40000, owner="marketing"),
    commitment("won", "won_revenue", 20000, owner="marketing", filters={"segment": ["smb"]}),
    commitment("conv", "mql_to_sql_rate", 0.3, owner="marketing"),
    commitment("accept", "acceptance_rate", 0.5, owner="marketing"),
    commitment("speed", "followed_up_within", 0.8, params={"business_hours": 4}),
    commitment("touch", "touches_within", 0.4, params={"touches": 2, "business_days": 3}),
    commitment("dispo", "dispositioned_within", 0.7, params={"business_days": 2}, filters={"team": ["A"]}),
    commitment("median", "response_time_median", 6),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(commitments=EVERY_METRIC, period="week"), offset=st.integers(0, 20))
def test_a_window_of_the_frames_evaluates_like_all_of_them(scenario, offset):
    """Oracle: evaluating cut_window(...) of a week gives the rows of evaluating every frame."""
    document, frames, as_of = scenario
    start = pd.Timestamp("2026-01-05", tz=document["timezone"]).tz_convert("UTC") + pd.Timedelta(weeks=offset)
    end = start + pd.Timedelta(weeks=1)
    agreement_doc = parse_document(document)
    everything = evaluate(agreement_doc, frames, start, end, as_of)
    windowed = evaluate(agreement_doc, cut_window(frames, start, end), start, end, as_of)
    pd.testing.assert_frame_equal(windowed, everything)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(commitments=EVERY_METRIC, period="month"), first=st.integers(0, 16))
def test_weeks_as_known_now_are_each_week_evaluated_on_its_own(scenario, first):
    """Oracle: the one-evaluation path (at_close=False) gives each week's rows of evaluating it alone."""
    document, frames, as_of = scenario
    versions = [version(parse_document(document))]
    tz = document["timezone"]
    weeks = [shift_week(week_of(ts("2026-01-05"), tz), first + k) for k in range(3)]
    together = evaluate_weeks(versions, frames, weeks, as_of, at_close=False)
    for week in weeks:
        start, end = ts(str(parse_week(week)), tz), ts(str(parse_week(week) + dt.timedelta(days=7)), tz)
        if start > as_of:
            assert week not in set(together["period"])
            continue
        alone = evaluate([week_version(versions, start, end)], frames, start, end, as_of)
        got = together[together["period"] == week].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, figures_frame(alone.assign(scope="week", as_of=as_of)))


# ----------------------------------------------------------------------------- records


def small_world():
    frames = make_frames(
        leads=leads_at(
            "2026-11-16 10:00", "2026-11-17 10:00", "2026-11-24 10:00", first_touch_at=ts("2026-11-16 09:00")
        )
    )
    return [version(doc())], frames


def test_week_figures_are_json_ready_records_of_the_week_and_the_period_to_date():
    versions, frames = small_world()
    records = week_figures(versions, frames, W47, THURSDAY_W48)
    assert json.loads(json.dumps(records)) == records
    assert [(r["scope"], r["period"], r["commitment"]) for r in records] == [
        ("week", W47, "mql-volume"), ("week", W47, "speed-to-lead"),
        ("period", "2026-11", "mql-volume"), ("period", "2026-11", "speed-to-lead"),
    ]  # fmt: skip
    assert set(records[0]) == set(FIGURE_FIELDS)
    # November to date as it stood at W47's close: two leads, paced over 15 of 21 working days.
    period = records[2]
    assert (period["actual"], period["as_of"]) == (2.0, "2026-11-23T00:00:00+00:00")
    assert period["elapsed_share"] == pytest.approx(15 / 21)


def test_records_read_back_as_the_same_typed_frame():
    versions, frames = small_world()
    frame = figures_frame(week_figures(versions, frames, W47, THURSDAY_W48))
    again = figures_frame(json.loads(json.dumps(to_records(frame))))
    pd.testing.assert_frame_equal(again, frame)
    assert str(frame["period_start"].dtype) == "datetime64[us, UTC]" and str(frame["n"].dtype) == "Int64"


# ----------------------------------------------------------------------------- corrections


def test_a_correction_of_a_frozen_week_is_named_with_both_numbers():
    versions, frames = small_world()
    frozen = figures_frame(week_figures(versions, frames, W47, THURSDAY_W48))
    more = make_frames(
        leads=leads_at("2026-11-16 10:00", "2026-11-17 10:00", "2026-11-18 10:00", "2026-11-24 10:00")
    )
    now = figures_frame(week_figures(versions, more, W47, THURSDAY_W48))
    changes = compare_figures(frozen, now)
    week = changes[(changes["scope"] == "week") & (changes["commitment"] == "mql-volume")].set_index("field")
    assert week.loc["actual", ["frozen", "now", "change"]].tolist() == [2.0, 3.0, 1.0]
    assert week.loc["actual", "message"] == "2026-W47 MQL volume was 2 leads when frozen, 3 leads now."
    assert compare_figures(frozen, frozen).empty


def test_the_overview_shows_frozen_weeks_as_frozen_and_flags_later_corrections():
    versions, frames = small_world()
    snapshot = pd.DataFrame(
        {"week": [W47], "final": [True], "frozen_at": [ts("2026-11-23 06:00")],
         "figures": [week_figures(versions, frames, W47, THURSDAY_W48)]}
    )  # fmt: skip
    more = make_frames(
        leads=leads_at("2026-11-16 10:00", "2026-11-17 10:00", "2026-11-18 10:00", "2026-11-24 10:00")
    )
    overview = week_overview(versions, more, snapshot, "2026-W48", THURSDAY_W48)
    assert overview.previous.set_index("commitment").loc["mql-volume", "actual"] == 2  # as frozen
    assert overview.frozen == {W47: ts("2026-11-23 06:00")}
    assert (
        "2026-W47 MQL volume was 2 leads when frozen, 3 leads now."
        in overview.corrections["message"].tolist()
    )
    trend = overview.trend.set_index(["period", "commitment"])
    assert trend.loc[(W47, "mql-volume"), "actual"] == 3  # the trend is every week as known now
    # Figures sliced by a filter are never the frozen ones.
    sliced = week_overview(versions, more, snapshot, "2026-W48", THURSDAY_W48, use_frozen=False)
    assert (
        sliced.previous.set_index("commitment").loc["mql-volume", "actual"] == 3 and sliced.corrections.empty
    )


def test_leads_decided_after_the_freeze_are_no_correction_but_settle_the_trend():
    versions = [version(doc())]
    # A Friday-afternoon lead of W47 is still pending at the week's close and touched late on Monday.
    frames = make_frames(leads=[
        {"mql_at": ts("2026-11-16 10:00"), "first_touch_at": ts("2026-11-16 10:30")},
        {"mql_at": ts("2026-11-20 16:00"), "first_touch_at": ts("2026-11-23 15:00")},
    ])  # fmt: skip
    snapshot = pd.DataFrame({"week": [W47], "final": [True], "frozen_at": [ts("2026-11-23 06:00")],
                             "figures": [week_figures(versions, frames, W47, ts("2026-11-23 06:00"))]})  # fmt: skip
    overview = week_overview(versions, frames, snapshot, "2026-W48", THURSDAY_W48)
    assert overview.corrections.empty
    shown = overview.previous.set_index("commitment").loc["speed-to-lead"]
    # Frozen while a window was open (provisional), the rate is read as known now, settled.
    assert (shown["actual"], shown["pending"], shown["status"]) == (0.5, 0.0, "met")
    settled = overview.trend.set_index(["period", "commitment"]).loc[(W47, "speed-to-lead")]
    assert (settled["actual"], settled["breached"], settled["pending"]) == (0.5, 1.0, 0.0)


def test_a_frozen_week_opened_itself_shows_its_frozen_period_figures_too():
    versions, frames = small_world()
    snapshot = pd.DataFrame({"week": [W47], "final": [True], "frozen_at": [ts("2026-11-23 06:00")],
                             "figures": [week_figures(versions, frames, W47, THURSDAY_W48)]})  # fmt: skip
    more = make_frames(leads=leads_at("2026-11-16 10:00", "2026-11-17 10:00", "2026-11-18 10:00"))
    overview = week_overview(versions, more, snapshot, W47, THURSDAY_W48)
    assert overview.is_closed and overview.as_of == ts("2026-11-23 00:00")
    assert overview.period_rows().set_index("commitment").loc["mql-volume", "actual"] == 2
    assert set(overview.corrections["scope"]) == {"week", "period"}


def test_a_provisional_snapshot_is_not_used_as_frozen():
    versions, frames = small_world()
    snapshot = pd.DataFrame({"week": [W47], "final": [False], "frozen_at": [ts("2026-11-20 06:00")],
                             "figures": [[{**r, "actual": 99.0} for r in week_figures(versions, frames, W47, THURSDAY_W48)]]})  # fmt: skip
    overview = week_overview(versions, frames, snapshot, "2026-W48", THURSDAY_W48)
    assert overview.previous.set_index("commitment").loc["mql-volume", "actual"] == 2 and not overview.frozen


def test_overview_window_covers_the_trend_and_the_period():
    start, end = overview_window([version(doc())], "2026-W48", THURSDAY_W48, trend_weeks=8)
    assert (start, end) == (ts("2026-10-05"), ts("2026-12-01"))


# ----------------------------------------------------------------------------- week over week and gaps


def figure(commitment_id, kind="count", **values):
    base = {"scope": "week", "period": "2026-W48", "period_state": "closed", "commitment": commitment_id,
            "party": "sales", "kind": kind, "unit": {"count": "leads", "duration": "business hours"}.get(kind, "share"),
            "lower_is_better": kind == "duration", "projection": values.get("actual")}  # fmt: skip
    return {**base, **values}


def test_week_over_week_compares_the_current_week_as_projected():
    this = figures_frame([
        figure("mql", actual=30.0, projection=60.0, period_state="current", status="on track"),
        figure("speed", "rate", actual=0.8, status="missed"),
        figure("median", "duration", actual=5.0, status="met"),
        figure("new", "rate", actual=0.5, status="met"),
    ])  # fmt: skip
    last = figures_frame([
        figure("mql", actual=50.0, period="2026-W47"), figure("speed", "rate", actual=0.8, period="2026-W47"),
        figure("median", "duration", actual=6.0, period="2026-W47"),
    ])  # fmt: skip
    changes = week_over_week(this, last).set_index("commitment")
    assert changes.loc["mql", ["value", "projected", "previous", "change"]].tolist() == [
        60.0,
        True,
        50.0,
        10.0,
    ]
    assert changes.loc["mql", "improved"] == True  # noqa: E712 - a nullable boolean
    assert changes.loc["speed", "improved"] is pd.NA  # unchanged
    assert changes.loc["median", "improved"] == True  # noqa: E712 - faster
    assert np.isnan(changes.loc["new", "change"]) and changes.loc["new", "improved"] is pd.NA


def test_the_three_biggest_gaps_rank_relative_shortfalls_across_units():
    rows = figures_frame([
        figure("mql", actual=50.0, target=100.0, status="missed"),  # 50% short
        figure("speed", "rate", actual=0.6, target=0.9, status="missed"),  # 33% short
        figure("median", "duration", actual=6.0, target=4.0, status="missed"),  # 50% over: lower is better
        figure("accept", "rate", actual=0.85, target=0.9, status="at risk"),  # 5.6% short
        figure("touch", "rate", actual=0.95, target=0.9, status="met"),  # ahead: never a gap
        {**figure("mql", actual=90.0, target=100.0, status="at risk"), "scope": "period", "period": "2026-11"},
    ])  # fmt: skip
    gaps = biggest_gaps(rows)
    assert gaps["commitment"].tolist() == ["mql", "median", "speed"]
    assert gaps["scope"].tolist()[0] == "week"  # the larger of its two shortfalls
    assert gaps["shortfall"].tolist() == pytest.approx([0.5, 0.5, 1 / 3])
    assert gaps["sentence"][2] == "Speed: 60% in week 48 of 2026 against a target of 90% (30 points short)."
    assert gaps["sentence"][1].endswith(
        "against a target of at most 4.0 business hours (2.0 business hours over, 50%)."
    )
    assert biggest_gaps(rows[rows["status"] == "met"]).empty


def test_numbers_are_written_with_their_units():
    assert wording.format_value(178.57, "count", "leads", compact=True) == "179 leads"
    assert wording.format_value(2.5, "count", "leads", compact=True) == "2.5 leads"
    assert wording.format_value(1, "count", "leads", compact=True) == "1 lead"
    assert wording.format_value(None, "rate", compact=True) == "–"
    assert wording.format_value(52_000, "amount", currency="EUR", compact=True) == "EUR 52k"
    assert format_change(0, "count", "leads") == "±0 leads"
    assert format_change(-1_250_000, "amount", currency="EUR") == "-EUR 1.25M"


def test_the_scoreboard_puts_each_commitment_in_words():
    versions, frames = small_world()
    overview = week_overview(versions, frames, None, "2026-W48", THURSDAY_W48)
    period = evaluate(versions, frames, ts("2026-11-01"), ts("2026-12-01"), THURSDAY_W48)
    table = scoreboard(overview.week_rows(), overview.changes, period, previous_week=W47)
    assert table.columns.tolist() == ["Side", "Commitment", "2026-W48", "Week target", "Week status",
                                      "vs 2026-W47", "November 2026", "Period target", "Period status"]  # fmt: skip
    assert table.iloc[0].tolist() == ["Marketing", "MQL volume", "1 lead", "50 leads", "Off track",
                                      "-0.6 leads", "3 leads", "210 leads", "Off track"]  # fmt: skip
    assert scoreboard(overview.week_rows(), overview.changes, period.iloc[:0], previous_week=W47)[
        "Period status"
    ].tolist() == ["–", "–"]
