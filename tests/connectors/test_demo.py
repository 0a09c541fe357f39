"""The demo company: deterministic, canonical, internally consistent and believable."""

from __future__ import annotations

import datetime as dt
import threading
import time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from analytics.schema import COLUMNS, validate_frame
from bootstrap import load_demo_if_empty
from connectors import demo
from data import queries, syncs
from data.engine import make_engine, upgrade
from tests.conftest import pretend_run

TODAY = dt.date(2026, 3, 16)
CUTOFF = pd.Timestamp(TODAY, tz="UTC")
TIMEZONES = {team.name: team.timezone for team in demo.TEAMS}
TIMESTAMPS = {
    table: [c for c, dtype in spec.items() if dtype.startswith("datetime")] for table, spec in COLUMNS.items()
}


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return demo.generate(today=TODAY)


@pytest.fixture(scope="module")
def mqls(frames) -> pd.DataFrame:
    """Handed-over leads with the business hours from mql_at to first touch (or to the cut-off), per team calendar."""
    leads = frames["leads"]
    handed = leads[leads["mql_at"].notna() & leads["owner_external_id"].notna()].copy()
    hours = []
    for mql_at, touch, team in zip(handed["mql_at"], handed["first_touch_at"], handed["team"], strict=True):
        end = CUTOFF if pd.isna(touch) else touch
        hours.append(business_hours(mql_at, end, team, cap=None if pd.notna(touch) else 4.01))
    handed["hours"] = hours
    handed["breached"] = handed["hours"] > 4
    return handed


# ----------------------------------------------------------------------------- an obvious business-time oracle


def business_hours(start: pd.Timestamp, end: pd.Timestamp, team: str, cap: float | None = None) -> float:
    """Hours between ``start`` and ``end`` inside Mon-Fri 09:00-17:30 of ``team``'s timezone, holidays off.

    Walks day by day; stops early once ``cap`` hours are reached.
    """
    zone = ZoneInfo(TIMEZONES[team])
    holidays = set(demo.team_holidays(team, range(start.year - 1, end.year + 1)))
    local_start, local_end = start.to_pydatetime().astimezone(zone), end.to_pydatetime().astimezone(zone)
    day, total = local_start.date(), 0.0
    while day <= local_end.date():
        if day.weekday() < 5 and day not in holidays:
            opens = dt.datetime.combine(day, dt.time(9, 0), tzinfo=zone)
            closes = dt.datetime.combine(day, dt.time(17, 30), tzinfo=zone)
            lo, hi = max(opens, local_start), min(closes, local_end)
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
            if cap is not None and total >= cap:
                return total
        day += dt.timedelta(days=1)
    return total


def test_oracle_counts_only_working_time():
    friday_4pm = pd.Timestamp("2026-03-13 16:00", tz="Europe/Berlin").tz_convert("UTC")
    monday_10am = pd.Timestamp("2026-03-16 10:00", tz="Europe/Berlin").tz_convert("UTC")
    assert business_hours(friday_4pm, monday_10am, "EMEA") == pytest.approx(2.5)
    good_friday = pd.Timestamp("2026-04-03 10:00", tz="Europe/Berlin").tz_convert("UTC")
    assert business_hours(good_friday, good_friday + pd.Timedelta(hours=5), "EMEA") == 0


# ----------------------------------------------------------------------------- invariants any generation must keep


def check_invariants(frames: dict[str, pd.DataFrame], today: dt.date) -> None:
    cutoff = pd.Timestamp(today, tz="UTC")
    owners, leads, deals, acts = frames["owners"], frames["leads"], frames["deals"], frames["activities"]

    for table, frame in frames.items():
        validate_frame(frame, table)
        assert list(frame.columns) == list(COLUMNS[table]), table
        assert frame["id"].tolist() == list(range(1, len(frame) + 1)), table
        assert (frame["source"] == "demo").all(), table
        assert frame["external_id"].notna().all() and frame["external_id"].is_unique, table
        for column in TIMESTAMPS[table]:
            assert not (frame[column] >= cutoff).any(), f"{table}.{column} has rows after the cut-off"

    # resolved ids agree with the external ids they stand for
    owner_id = dict(zip(owners["external_id"], owners["id"], strict=True))
    owner_team = dict(zip(owners["external_id"], owners["team"], strict=True))
    lead_id = dict(zip(leads["external_id"], leads["id"], strict=True))
    for frame in (leads, deals, acts):
        known = frame["owner_external_id"].notna()
        assert frame["owner_id"].isna().eq(~known).all()
        assert (frame.loc[known, "owner_external_id"].map(owner_id) == frame.loc[known, "owner_id"]).all()
    for frame in (leads, deals):
        known = frame["owner_external_id"].notna()
        assert (frame.loc[known, "owner_external_id"].map(owner_team) == frame.loc[known, "team"]).all()
        assert frame.loc[~known, "team"].isna().all()
    for frame in (deals, acts):
        linked = frame["lead_external_id"].notna()
        assert frame["lead_id"].isna().eq(~linked).all()
        assert (frame.loc[linked, "lead_external_id"].map(lead_id) == frame.loc[linked, "lead_id"]).all()

    # leads: a funnel in time order
    mql = leads["mql_at"].notna()
    assert (leads.loc[mql, "created_at"] <= leads.loc[mql, "mql_at"]).all()
    assert (
        leads.loc[~mql, ["owner_external_id", "first_touch_at", "disposition_at", "sql_at"]]
        .isna()
        .all()
        .all()
    )
    assigned = leads["owner_external_id"].notna()
    assert assigned.eq(leads["owner_assigned_at"].notna()).all()
    assert (leads.loc[assigned, "owner_assigned_at"] >= leads.loc[assigned, "mql_at"]).all()
    touched = leads["first_touch_at"].notna()
    assert (leads.loc[touched, "first_touch_at"] >= leads.loc[touched, "owner_assigned_at"]).all()
    assert set(leads["disposition"]) <= {"open", "accepted", "rejected"}
    decided = leads["disposition"].isin(["accepted", "rejected"])
    assert decided.eq(leads["disposition_at"].notna()).all()
    assert (leads.loc[decided, "disposition_at"] >= leads.loc[decided, "first_touch_at"]).all()
    accepted = leads["disposition"] == "accepted"
    assert accepted.eq(leads["sql_at"].notna()).all()
    assert (leads.loc[accepted, "sql_at"] == leads.loc[accepted, "disposition_at"]).all()
    rejected = leads["disposition"] == "rejected"
    assert rejected.eq(leads["rejection_reason"].notna()).all(), "reasons exactly on rejected leads"
    assert set(leads.loc[rejected, "rejection_reason"]) <= set(demo.REJECTION_REASONS)
    assert set(leads["lifecycle_stage"]) <= set(demo.LIFECYCLE_STAGES)
    assert set(leads["channel"]) <= {c.name for c in demo.CHANNELS}
    assert set(leads["segment"]) <= set(demo.SEGMENTS)
    timestamps = leads[[c for c in TIMESTAMPS["leads"] if c != "updated_at"]]
    assert (leads["updated_at"] >= timestamps.max(axis=1)).all()

    # activities: the touches counted on the lead, the first one at first_touch_at, by the lead's owner
    counts = acts.groupby("lead_id").size()
    assert (leads.set_index("id")["touches"] == counts.reindex(leads["id"], fill_value=0)).all()
    first = acts.groupby("lead_id")["occurred_at"].min()
    assert (leads.set_index("id").loc[first.index, "first_touch_at"] == first).all()
    assert leads.loc[touched, "touches"].ge(1).all() and leads.loc[~touched, "touches"].eq(0).all()
    by_lead = leads.set_index("id")
    assert (
        acts["owner_external_id"].to_numpy() == by_lead.loc[acts["lead_id"], "owner_external_id"].to_numpy()
    ).all()
    assert (acts["occurred_at"].to_numpy() >= by_lead.loc[acts["lead_id"], "mql_at"].to_numpy()).all()
    assert set(acts["kind"]) <= {"call", "email", "meeting", "task"}
    rejected_at = by_lead.loc[acts["lead_id"], "disposition_at"].where(
        by_lead.loc[acts["lead_id"], "disposition"].eq("rejected").to_numpy()
    )
    assert not (acts["occurred_at"].to_numpy() > rejected_at.to_numpy()).any(), "no touches after a rejection"

    # deals: stages, flags and dates agree; lead-sourced deals follow their SQL
    assert set(deals["stage"]) <= {*demo.OPEN_STAGES, "closedwon", "closedlost"}
    assert (deals["is_won"] <= deals["is_closed"]).all()
    assert deals["is_closed"].eq(deals["closed_at"].notna()).all()
    assert deals["is_closed"].eq(deals["stage"].isin(["closedwon", "closedlost"])).all()
    assert deals["is_won"].eq(deals["stage"] == "closedwon").all()
    assert (deals.loc[deals["is_closed"], "closed_at"] >= deals.loc[deals["is_closed"], "created_at"]).all()
    assert (deals["currency"] == "EUR").all() and (deals["pipeline"] == "default").all()
    assert (deals["amount"] > 0).all()
    linked = deals[deals["lead_id"].notna()]
    lead_of = by_lead.loc[linked["lead_id"]]
    assert (linked["created_at"].to_numpy() >= lead_of["sql_at"].to_numpy()).all()
    assert (linked["owner_external_id"].to_numpy() == lead_of["owner_external_id"].to_numpy()).all()
    assert (linked["channel"].to_numpy() == lead_of["channel"].to_numpy()).all()
    assert deals.loc[deals["lead_id"].isna(), "channel"].isna().all()

    # lifecycle follows the lead's furthest step
    won_leads = set(deals.loc[deals["is_won"], "lead_id"].dropna())
    deal_leads = set(deals["lead_id"].dropna())
    stage = leads.set_index("id")["lifecycle_stage"]
    expected = np.select(
        [
            stage.index.isin(list(won_leads)),
            stage.index.isin(list(deal_leads)),
            by_lead["disposition"].eq("accepted").to_numpy(),
            by_lead["mql_at"].notna().to_numpy(),
        ],
        ["customer", "opportunity", "salesqualifiedlead", "marketingqualifiedlead"],
        "lead",
    )
    assert (stage.to_numpy() == expected).all()


def test_default_frames_keep_the_invariants(frames):
    check_invariants(frames, TODAY)
    assert len(frames["leads"]) == 12_000
    assert len(frames["owners"]) == 13


# No shrinking: a failing example is reported as drawn, so a broken invariant fails in seconds, not minutes.
@settings(
    max_examples=15,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    leads=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
    today=st.dates(dt.date(2021, 1, 1), dt.date(2032, 12, 31)),
)
def test_any_size_seed_and_day_keep_the_invariants(leads, seed, today):
    frames = demo.generate(leads=leads, seed=seed, today=today)
    assert len(frames["leads"]) == leads
    check_invariants(frames, today)


# ----------------------------------------------------------------------------- determinism and arguments


def test_same_arguments_give_identical_frames():
    first = demo.generate(leads=2_000, seed=3, today=TODAY)
    again = demo.generate(leads=2_000, seed=3, today=TODAY)
    for table in COLUMNS:
        pd.testing.assert_frame_equal(first[table], again[table])


def test_another_seed_or_day_gives_other_frames():
    base = demo.generate(leads=2_000, seed=3, today=TODAY)["leads"]
    other_seed = demo.generate(leads=2_000, seed=4, today=TODAY)["leads"]
    other_day = demo.generate(leads=2_000, seed=3, today=TODAY + dt.timedelta(days=1))["leads"]
    assert not base["mql_at"].equals(other_seed["mql_at"])
    assert not base["mql_at"].equals(other_day["mql_at"])


def test_a_small_company_works():
    frames = demo.generate(leads=500, seed=11, today=TODAY)
    assert len(frames["leads"]) == 500
    assert len(frames["activities"]) > 500
    assert 10 < len(frames["deals"]) < 200
    check_invariants(frames, TODAY)


@pytest.mark.parametrize("leads", [0, -5, 2.5, True, "100"])
def test_bad_sizes_are_refused(leads):
    with pytest.raises(demo.DemoError, match="leads must be a whole number"):
        demo.generate(leads=leads, today=TODAY)


def test_a_datetime_is_not_a_day():
    with pytest.raises(demo.DemoError, match="today must be a datetime.date"):
        demo.generate(leads=10, today=dt.datetime(2026, 3, 16, 12, 0))


def test_unknown_team_has_no_holidays():
    with pytest.raises(demo.DemoError, match="unknown demo team 'APAC'"):
        demo.team_holidays("APAC", [2026])


# ----------------------------------------------------------------------------- realism


def test_fifteen_months_of_history(frames):
    leads = frames["leads"]
    first, _ = demo.period(TODAY)
    assert leads["mql_at"].min() < CUTOFF - pd.Timedelta(days=365)
    assert leads["mql_at"].min().date() >= first
    assert leads["mql_at"].max() > CUTOFF - pd.Timedelta(days=2)


def test_monthly_mql_volume_is_seasonal_and_in_range(frames):
    mql_at = frames["leads"]["mql_at"].dropna().dt.tz_convert("Europe/Berlin")
    monthly = mql_at.dt.tz_localize(None).dt.to_period("M").value_counts().sort_index()
    full = monthly.iloc[:-1]  # the current month is partial
    assert len(full) == 15
    assert full.median() == pytest.approx(650, rel=0.2)
    assert full.min() > 380 and full.max() < 1_000
    september = full[full.index.month == 9].iloc[0]
    august = full[full.index.month == 8].iloc[0]
    assert september > 1.2 * august, "the September peak follows the summer dip"


def test_leads_arrive_on_weekends_and_after_hours(frames):
    leads = frames["leads"][frames["leads"]["mql_at"].notna() & frames["leads"]["team"].notna()]
    local = pd.concat(
        [g["mql_at"].dt.tz_convert(TIMEZONES[team]).dt.tz_localize(None) for team, g in leads.groupby("team")]
    )
    weekend = local.dt.day_of_week >= 5
    minutes = local.dt.hour * 60 + local.dt.minute
    outside = (minutes < 9 * 60) | (minutes >= 17 * 60 + 30)
    assert 0.04 < weekend.mean() < 0.2
    assert 0.15 < (outside & ~weekend).mean() < 0.45
    by_weekday = local.dt.day_of_week.value_counts()
    assert by_weekday[1] > by_weekday[4] > by_weekday[6], "Tuesday busiest, Friday quieter, Sunday quietest"


def test_every_channel_campaign_and_segment_is_present(frames):
    leads = frames["leads"]
    assert set(leads["channel"]) == {c.name for c in demo.CHANNELS}
    assert set(leads["segment"]) == set(demo.SEGMENTS)
    for channel in demo.CHANNELS:
        campaigns = set(leads.loc[leads["channel"] == channel.name, "campaign"].dropna())
        assert campaigns == {name for name, _, _ in channel.campaigns}, channel.name
    assert leads["channel"].value_counts().iloc[0] > 4 * leads["channel"].value_counts().iloc[-1]


def test_channels_differ_in_quality(frames):
    leads = frames["leads"]
    decided = leads[leads["disposition"] != "open"]
    accept = decided.groupby("channel")["disposition"].apply(lambda d: (d == "accepted").mean())
    assert accept["Referrals"] > 0.5 > 0.25 > accept["Paid Social"]
    assert 0.3 < (leads.loc[leads["mql_at"].notna(), "disposition"] == "accepted").mean() < 0.45
    reasons = pd.crosstab(decided["channel"], decided["rejection_reason"], normalize="index")
    assert (
        reasons.loc["Social", "student_or_job_seeker"] > 3 * reasons.loc["Referrals", "student_or_job_seeker"]
    )
    assert reasons.loc["Referrals", "duplicate"] > 2 * reasons.loc["Organic Search", "duplicate"]
    assert set(decided["rejection_reason"].dropna()) == set(demo.REJECTION_REASONS)


def test_reps_differ_in_breach_share(frames, mqls):
    share = mqls.groupby("owner_external_id")["breached"].mean()
    names = frames["owners"].set_index("external_id")["name"]
    by_name = share.rename(index=names)
    assert by_name["Anna Becker"] < 0.05 and by_name["Emily Johnson"] < 0.05
    assert by_name["Marie Fischer"] > 0.2 and by_name["David Miller"] > 0.3
    assert share.max() > 8 * share.min()
    never = (
        mqls.groupby("owner_external_id")["first_touch_at"]
        .apply(lambda s: s.isna().mean())
        .rename(index=names)
    )
    assert never["David Miller"] > 5 * never["Anna Becker"]
    overall = 1 - mqls["breached"].mean()
    assert 0.84 < overall < 0.94, "around the default 90% speed-to-lead target"


def test_speed_to_lead_meets_the_target_in_some_months_and_misses_in_others(mqls):
    month = mqls["mql_at"].dt.tz_convert("Europe/Berlin").dt.tz_localize(None).dt.to_period("M")
    rate = 1 - mqls.groupby(month)["breached"].mean()
    assert (rate >= 0.9).any() and (rate < 0.9).any()


def test_weekend_blind_rep_answers_friday_evening_leads_on_monday_around_noon(frames):
    leads = frames["leads"]
    jonas = frames["owners"].set_index("name").loc["Jonas Weber", "external_id"]
    mine = leads[(leads["owner_external_id"] == jonas) & leads["first_touch_at"].notna()]
    assigned = mine["owner_assigned_at"].dt.tz_convert("Europe/Berlin")
    friday_evening = (assigned.dt.day_of_week == 4) & (assigned.dt.hour >= 18)
    touched = mine.loc[friday_evening, "first_touch_at"].dt.tz_convert("Europe/Berlin")
    assert len(touched) > 5
    assert (touched.dt.day_of_week <= 1).all()
    assert (touched.dt.hour >= 12).all()


def test_routing_takes_minutes_and_sometimes_hours(frames):
    leads = frames["leads"]
    delay = (leads["owner_assigned_at"] - leads["mql_at"]).dropna()
    assert pd.Timedelta(minutes=2) < delay.median() < pd.Timedelta(minutes=15)
    assert (delay > pd.Timedelta(hours=2)).mean() > 0.01


def test_round_robin_spreads_leads_evenly_within_a_team(frames):
    leads = frames["leads"]
    owners = frames["owners"].set_index("external_id")
    active_reps = owners[owners["active"] & (owners["name"] != demo.MANAGER.name)]
    counts = leads["owner_external_id"].value_counts().reindex(active_reps.index)
    for _team, per_rep in counts.groupby(active_reps["team"]):
        assert per_rep.max() < 1.15 * per_rep.min()
    assert demo.MANAGER.email + "@" + demo.EMAIL_DOMAIN in set(frames["owners"]["email"])
    assert frames["owners"]["team"].value_counts().to_dict() == {"EMEA": 7, "Americas": 6}


def test_the_rep_who_left_gets_no_new_leads_and_touches_nothing_after(frames):
    owners = frames["owners"]
    gone = owners[~owners["active"]]
    assert len(gone) == 1
    left_at, external_id = gone["updated_at"].iloc[0], gone["external_id"].iloc[0]
    first, _ = demo.period(TODAY)
    assert pd.Timestamp(first, tz="UTC") + pd.Timedelta(days=120) < left_at < CUTOFF - pd.Timedelta(days=60)
    leads = frames["leads"][frames["leads"]["owner_external_id"] == external_id]
    assert len(leads) > 100
    assert (leads["owner_assigned_at"] < left_at).all()
    acts = frames["activities"]
    assert (acts.loc[acts["owner_external_id"] == external_id, "occurred_at"] < left_at).all()


def test_recent_leads_are_still_open_and_some_are_overdue_now(mqls):
    recent = mqls[mqls["mql_at"] >= CUTOFF - pd.Timedelta(days=3)]
    assert (recent["disposition"] == "open").mean() > 0.7
    overdue = mqls[mqls["first_touch_at"].isna() & (mqls["disposition"] == "open") & mqls["breached"]]
    assert len(overdue) > 5
    assert (overdue["mql_at"] >= CUTOFF - pd.Timedelta(days=7)).any(), "the queue has fresh entries"


def test_no_touches_on_public_holidays_or_weekends_unless_after_hours(frames):
    acts = frames["activities"]
    team = acts["owner_external_id"].map(frames["owners"].set_index("external_id")["team"])
    for name, zone in TIMEZONES.items():
        local = acts.loc[team == name, "occurred_at"].dt.tz_convert(zone).dt.tz_localize(None)
        days = set(demo.team_holidays(name, range(2024, 2027)))
        assert not local.dt.date.isin(days).any(), f"{name} works on a holiday"
        assert (local.dt.day_of_week >= 5).mean() < 0.005


def test_disposition_mostly_within_three_business_days(frames):
    leads = frames["leads"]
    decided = leads[leads["disposition_at"].notna()].sample(1_500, random_state=1)
    days = [
        business_hours(touch, at, team) / 8.5
        for touch, at, team in zip(decided["mql_at"], decided["disposition_at"], decided["team"], strict=True)
    ]
    days = pd.Series(days)
    assert 0.6 < (days <= 3).mean() < 0.95
    assert (days > 5).mean() > 0.03, "some are late"


def test_deals_come_from_about_forty_percent_of_sqls(frames):
    leads, deals = frames["leads"], frames["deals"]
    sqls = leads["sql_at"].notna().sum()
    from_leads = deals["lead_id"].notna().sum()
    assert 0.33 < from_leads / sqls < 0.47
    assert 0.03 < deals["lead_id"].isna().mean() < 0.12, "a few sales-sourced deals"
    closed = deals[deals["is_closed"]]
    assert 0.22 < closed["is_won"].mean() < 0.33
    median = deals.groupby(deals["lead_id"].map(leads.set_index("id")["segment"]))["amount"].median()
    assert median["Enterprise"] > 2 * median["Mid-Market"] > 4 * median["SMB"]
    assert (~deals["is_closed"]).sum() > 30, "an open pipeline exists"
    assert set(deals.loc[~deals["is_closed"], "stage"]) == set(demo.OPEN_STAGES)


# ----------------------------------------------------------------------------- holidays


def test_holidays_are_the_known_dates():
    assert demo.easter_sunday(2025) == dt.date(2025, 4, 20)
    assert dt.date(2025, 6, 9) in demo.german_holidays(2025)  # Whit Monday
    assert dt.date(2025, 10, 3) in demo.german_holidays(2025)
    us = demo.us_holidays(2027)
    assert dt.date(2027, 7, 5) in us  # 4 July on a Sunday is observed on Monday
    assert dt.date(2027, 5, 31) in us  # Memorial Day: last Monday of May
    assert dt.date(2027, 11, 25) in us  # Thanksgiving: fourth Thursday
    assert len(demo.team_holidays("EMEA", [2025, 2026])) == 18


# ----------------------------------------------------------------------------- loading into storage


def test_load_demo_twice_gives_the_same_rows(tmp_path):
    from data.engine import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    seen = []
    first = demo.load_demo(engine, leads=500, seed=5, today=TODAY, progress=lambda *a: seen.append(a))
    stored = {**queries.table_counts(engine), "handovers": queries.count_handovers(engine)}
    assert {t: stored[t] for t in first} == first
    generated = demo.generate(leads=500, seed=5, today=TODAY)
    written = 500 + len(demo.lifecycle_cases(generated, 5).merges)  # the duplicates, merged away after
    assert first["leads"] == 500 and ("leads", written, written) in seen
    assert first["handovers"] == len(demo.recycled_handovers(generated, 5)) > 0

    again = demo.load_demo(engine, leads=500, seed=5, today=TODAY)
    assert again == first
    assert {t: queries.table_counts(engine)[t] for t in first if t != "handovers"} == {
        t: n for t, n in first.items() if t != "handovers"
    }
    assert queries.count_handovers(engine) == first["handovers"]

    expected = generated["leads"]
    read = queries.read_leads(engine, per_handover=False)  # the lead rows as written
    pd.testing.assert_series_equal(read["external_id"], expected["external_id"], check_names=False)
    pd.testing.assert_series_equal(read["first_touch_at"], expected["first_touch_at"], check_names=False)
    pd.testing.assert_series_equal(read["team"], expected["team"], check_names=False)

    # Each recycled lead reads as its two handovers, the second one in the period of its own MQL.
    handed = queries.read_leads(engine)
    assert len(handed) == len(read) + first["handovers"] // 2
    repeat = handed[handed["id"] < 0]
    assert len(repeat) == first["handovers"] // 2 and repeat["external_id"].isin(read["external_id"]).all()

    # The CRM's later changes: duplicates merged back (their activities with them, one MQL each), moved
    # deals on their new lead with its channel, archived deals flagged; checked row by row.
    cases = demo.lifecycle_cases(generated, 5)
    assert len(cases.merges) > 0 and len(cases.moves) > 0 and cases.frames["deals"]["archived"].any()
    assert (
        cases.frames["activities"]["lead_external_id"].str.endswith("-dup").any()
    )  # written on the duplicates
    stored = queries.read_activities(engine, per_handover=False).set_index("external_id")["lead_external_id"]
    wanted = generated["activities"].set_index("external_id")["lead_external_id"]
    assert stored.sort_index().tolist() == wanted.sort_index().tolist()  # every one back on its survivor
    deals = queries.read_deals(engine, per_handover=False).set_index("external_id")
    moved = cases.moves.set_index("external_id")
    channel = generated["leads"].set_index("external_id")["channel"]
    for deal, row in generated["deals"].set_index("external_id").iterrows():
        lead = moved.loc[deal, "lead_external_id"] if deal in moved.index else row["lead_external_id"]
        assert deals.loc[deal, "lead_external_id"] == lead or (
            pd.isna(lead) and pd.isna(deals.loc[deal, "lead_external_id"])
        )
        if deal in moved.index:
            assert deals.loc[deal, "channel"] == channel[lead] != row["channel"]
    archived = cases.frames["deals"].set_index("external_id")["archived"]
    assert deals["archived"].sort_index().tolist() == archived.sort_index().tolist()

    smaller = demo.load_demo(engine, leads=200, seed=5, today=TODAY, reset=True)
    assert {t: queries.table_counts(engine)[t] for t in smaller if t != "handovers"} == {
        t: n for t, n in smaller.items() if t != "handovers"
    }
    assert queries.count_handovers(engine) == smaller["handovers"]


def test_two_servers_starting_on_one_empty_database_load_the_demo_once(tmp_path, other_process):
    """A second server finds the first one loading the demo: it waits for that load instead of loading again."""
    engine = make_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    upgrade(engine)
    loading = syncs.start_run(engine, "demo", "demo")
    pretend_run(engine, loading, pid=other_process)  # the first server, mid-load
    ended = threading.Timer(1.0, lambda: syncs.finish_run(engine, loading, "ok"))
    ended.start()
    started = time.monotonic()
    assert load_demo_if_empty(engine, leads=500) is False
    assert time.monotonic() - started >= 0.9  # it waited for the other load to end
    assert syncs.read_sync_runs(engine)["id"].tolist() == [loading]  # and loaded nothing itself
