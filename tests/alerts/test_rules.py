"""Which alerts are due: by hand, against a slow obvious oracle, and across a working day (time travel)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import time_machine

from alerts.rules import (
    BREACHED,
    DUE_SOON,
    RuleError,
    at_work,
    daily_queue_due,
    first_working_day,
    lead_alerts,
    queue_leads,
    weekly_digest_due,
    working_day,
)
from analytics.calendar import BusinessCalendar
from tests.analytics.conftest import agreement, commitment, make_frames, slow_business_seconds, ts

SPEED = commitment("speed", "followed_up_within", 0.9, params={"business_hours": 4})
BERLIN = {
    "workdays": ["mon", "tue", "wed", "thu", "fri"],
    "hours": ["09:00", "17:00"],
    "holidays": ["2026-12-24"],
}
DOC = agreement(
    commitments=[SPEED],
    timezone="Europe/Berlin",
    calendar=BERLIN,
    teams={"US": {"timezone": "America/New_York"}},
)


def test_due_soon_and_breached_by_hand():
    frames = make_frames(
        owners=[{"id": 1, "name": "Ann", "email": "ann@example.com"}],
        leads=[
            # Mon 09:00 Berlin + 4 h: due 13:00; at 12:30 half an hour left: due soon.
            {"mql_at": ts("2026-12-07 09:00", "Europe/Berlin"), "owner_id": 1},
            # Mon 11:00: due 15:00, 2.5 h left at 12:30: not yet.
            {"mql_at": ts("2026-12-07 11:00", "Europe/Berlin"), "owner_id": 1},
            # Fri 14:00: 3 h Friday + 1 h Monday: due Mon 10:00, overdue 2.5 h: breached.
            {"mql_at": ts("2026-12-04 14:00", "Europe/Berlin"), "owner_id": 1},
            # Touched: never an alert.
            {"mql_at": ts("2026-12-07 09:00", "Europe/Berlin"), "first_touch_at": ts("2026-12-07 09:10", "Europe/Berlin")},
            # Touched, but only after as_of: still untouched now, and due soon.
            {"mql_at": ts("2026-12-07 09:15", "Europe/Berlin"), "first_touch_at": ts("2026-12-07 15:00", "Europe/Berlin")},
            # Breached long ago (Wednesday): older than the lookback, left to the daily queue.
            {"mql_at": ts("2026-12-02 09:00", "Europe/Berlin")},
        ],
    )  # fmt: skip
    at = ts("2026-12-07 12:30", "Europe/Berlin")
    alerts = lead_alerts(DOC, frames, at, lead_time_hours=1.0).set_index("lead_id")
    assert alerts["kind"].to_dict() == {3: BREACHED, 1: DUE_SOON, 5: DUE_SOON}
    assert alerts.loc[1, "hours_left"] == 0.5 and alerts.loc[3, "hours_left"] == -2.5
    assert alerts.loc[1, "window"] == "2026-12-07T08:00:00Z"  # the handover, in UTC
    assert alerts.loc[1, "owner"] == "Ann" and alerts.loc[1, "commitment"] == "speed"
    assert alerts.loc[3, "due_at"] == ts("2026-12-07 10:00", "Europe/Berlin")
    # A longer warning time catches lead 2 too; a lookback of a week catches Wednesday's breach.
    assert 2 in lead_alerts(DOC, frames, at, lead_time_hours=3.0)["lead_id"].tolist()
    assert 6 in lead_alerts(DOC, frames, at, breach_lookback_hours=40)["lead_id"].tolist()


def test_demo_leads_are_left_out_unless_asked():
    frames = make_frames(leads=[{"mql_at": ts("2026-12-07 08:00"), "source": "demo"},
                                {"mql_at": ts("2026-12-07 08:00"), "source": "hubspot"}])  # fmt: skip
    at = ts("2026-12-07 12:30", "Europe/Berlin")
    assert lead_alerts(DOC, frames, at)["lead_id"].tolist() == [2]
    assert sorted(lead_alerts(DOC, frames, at, include_demo=True)["lead_id"]) == [1, 2]


def test_each_follow_up_commitment_alerts_with_its_own_limit_and_filters():
    fast = commitment("events", "followed_up_within", 0.9, params={"business_hours": 1},
                      filters={"channel": ["Events"]})  # fmt: skip
    doc = agreement(commitments=[SPEED, fast], timezone="Europe/Berlin", calendar=BERLIN)
    frames = make_frames(leads=[{"mql_at": ts("2026-12-07 09:00", "Europe/Berlin"), "channel": "Events"},
                                {"mql_at": ts("2026-12-07 09:00", "Europe/Berlin"), "channel": "Web"}])  # fmt: skip
    alerts = lead_alerts(doc, frames, ts("2026-12-07 09:30", "Europe/Berlin"), lead_time_hours=1)
    assert alerts[["commitment", "lead_id", "kind"]].values.tolist() == [["events", 1, DUE_SOON]]
    alerts = lead_alerts(doc, frames, ts("2026-12-07 12:10", "Europe/Berlin"), lead_time_hours=1)
    assert sorted(map(tuple, alerts[["commitment", "lead_id", "kind"]].values.tolist())) == [
        ("events", 1, BREACHED), ("speed", 1, DUE_SOON), ("speed", 2, DUE_SOON)]  # fmt: skip


def test_a_negative_lead_time_is_refused_naming_the_setting():
    with pytest.raises(RuleError, match="ACCORD_ALERT_LEAD_TIME"):
        lead_alerts(DOC, make_frames(), ts("2026-12-07 10:00"), lead_time_hours=-1)


def _slow_alerts(frames, as_of, limit_h, lead_h, lookback_h, calendars):
    """Row by row: business hours used from the slow calendar walk; the rules spelled out."""
    out = {}
    for lead in frames["leads"].to_dict("records"):
        if lead["mql_at"] > as_of or (pd.notna(lead["first_touch_at"]) and lead["first_touch_at"] <= as_of):
            continue
        cal = calendars.get(lead["team"], calendars[None])
        left = limit_h - slow_business_seconds(lead["mql_at"], as_of, cal) / 3600
        if 0 <= left <= lead_h:
            out[lead["id"]] = DUE_SOON
        elif -lookback_h <= left < 0:
            out[lead["id"]] = BREACHED
    return out


@pytest.mark.parametrize("seed", range(6))
def test_alerts_match_the_slow_oracle(seed):
    rng = np.random.default_rng(seed)
    n = 300
    start = ts("2026-12-01 00:00")
    minutes = rng.integers(0, 12 * 24 * 60, n)
    mql = [start + pd.Timedelta(minutes=int(m)) for m in minutes]
    touched = rng.random(n) < 0.4
    rows = []
    for i in range(n):
        row = {"mql_at": mql[i], "team": ["US", "EMEA", None][i % 3]}
        if touched[i]:
            row["first_touch_at"] = mql[i] + pd.Timedelta(minutes=int(rng.integers(1, 3000)))
        rows.append(row)
    frames = make_frames(leads=rows)
    calendars = {None: DOC.calendar_for(None), "US": DOC.calendar_for("US"), "EMEA": DOC.calendar_for("EMEA")}
    for _ in range(4):
        as_of = start + pd.Timedelta(minutes=int(rng.integers(3 * 24 * 60, 13 * 24 * 60)))
        lead_h, lookback_h = float(rng.choice([0.5, 1, 2])), float(rng.choice([2, 8]))
        fast = lead_alerts(DOC, frames, as_of, lead_time_hours=lead_h, breach_lookback_hours=lookback_h)
        assert dict(zip(fast["lead_id"], fast["kind"], strict=True)) == _slow_alerts(
            frames, as_of, 4, lead_h, lookback_h, calendars
        ), as_of


def test_working_hours_days_and_the_first_working_day():
    cal = BusinessCalendar.from_names(
        timezone="Europe/Berlin", hours=("09:00", "17:00"), holidays=["2026-12-07"]
    )
    assert not at_work(cal, ts("2026-12-08 08:59", "Europe/Berlin"))
    assert at_work(cal, ts("2026-12-08 09:00", "Europe/Berlin"))
    assert at_work(cal, ts("2026-12-08 16:59", "Europe/Berlin"))
    assert not at_work(cal, ts("2026-12-08 17:00", "Europe/Berlin"))
    assert not at_work(cal, ts("2026-12-07 10:00", "Europe/Berlin"))  # a holiday
    assert not working_day(cal, dt.date(2026, 12, 12)) and working_day(cal, dt.date(2026, 12, 8))
    assert first_working_day(cal, dt.date(2026, 12, 13)) == dt.date(2026, 12, 8)  # Monday is a holiday
    only_weekends = BusinessCalendar.from_names(workdays=["sat"], holidays=["2026-12-12"])
    assert first_working_day(only_weekends, dt.date(2026, 12, 9)) is None


def test_daily_queue_lists_overdue_and_due_today_per_team():
    frames = make_frames(leads=[
        {"mql_at": ts("2026-12-04 10:00", "Europe/Berlin"), "team": "EMEA"},   # overdue since Friday
        {"mql_at": ts("2026-12-07 09:30", "Europe/Berlin"), "team": "EMEA"},   # due 13:30 today
        {"mql_at": ts("2026-12-07 15:00", "Europe/Berlin"), "team": "EMEA"},   # due tomorrow 11:00
        {"mql_at": ts("2026-12-07 09:30", "Europe/Berlin"), "team": "EMEA",
         "first_touch_at": ts("2026-12-07 09:45", "Europe/Berlin")},          # touched
    ])  # fmt: skip
    queue = queue_leads(DOC, frames, ts("2026-12-07 16:00", "Europe/Berlin"))
    assert queue["lead_id"].tolist() == [1, 2]
    assert (queue["hours_left"] < 0).tolist() == [True, True]
    queue = queue_leads(DOC, frames, ts("2026-12-07 10:00", "Europe/Berlin"))
    assert queue["lead_id"].tolist() == [1, 2] and queue["hours_left"].iloc[1] == 3.5


def _walk(start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta):
    """Travel through time: yields the real clock's instant, as ``datetime.now`` sees it."""
    with time_machine.travel(start.to_pydatetime(), tick=False) as traveller:
        moment = start
        while moment < end:
            yield pd.Timestamp(dt.datetime.now(dt.UTC))
            moment += step
            traveller.move_to(moment.to_pydatetime())


def test_time_travel_across_a_working_day_warns_only_inside_business_hours():
    """Every 15 minutes from Sunday evening to Tuesday morning: warnings only while Berlin works."""
    frames = make_frames(leads=[{"mql_at": ts("2026-12-04 15:30", "Europe/Berlin"), "team": "EMEA"},
                                {"mql_at": ts("2026-12-07 13:00", "Europe/Berlin"), "team": "EMEA"}])  # fmt: skip
    cal = DOC.calendar_for("EMEA")
    seen: dict[tuple[int, str], list[pd.Timestamp]] = {}
    for now in _walk(ts("2026-12-06 20:00", "Europe/Berlin"), ts("2026-12-08 09:00", "Europe/Berlin"),
                     pd.Timedelta(minutes=15)):  # fmt: skip
        if not at_work(cal, now):
            continue
        for row in lead_alerts(DOC, frames, now).to_dict("records"):
            seen.setdefault((row["lead_id"], row["kind"]), []).append(now)
    local = {k: [t.tz_convert("Europe/Berlin").strftime("%a %H:%M") for t in v] for k, v in seen.items()}
    # Lead 1: Friday 15:30 + 1.5 h Friday + 2.5 h Monday = due Monday 11:30: warned from an hour before
    # until the due instant itself (a touch then is still in time), breached after it.
    assert local[(1, DUE_SOON)] == ["Mon 10:30", "Mon 10:45", "Mon 11:00", "Mon 11:15", "Mon 11:30"]
    assert local[(1, BREACHED)][0] == "Mon 11:45" and local[(1, BREACHED)][-1] == "Mon 16:45"
    # Lead 2: Monday 13:00 + 4 h = due Monday 17:00 (the closing): warned from 16:00 while Berlin works.
    assert local[(2, DUE_SOON)] == ["Mon 16:00", "Mon 16:15", "Mon 16:30", "Mon 16:45"]
    assert all(at_work(cal, t) for times in seen.values() for t in times)


def test_time_travel_digest_once_on_monday_and_queue_once_a_day():
    cal = DOC.calendar_for(None)
    digests, queues = {}, {}
    for now in _walk(ts("2026-12-05 00:00", "Europe/Berlin"), ts("2026-12-16 00:00", "Europe/Berlin"),
                     pd.Timedelta(minutes=30)):  # fmt: skip
        week = weekly_digest_due(cal, now, "08:00")
        if week is not None:
            digests.setdefault(week, now)  # the ledger sends the first one and refuses the rest
        day = daily_queue_due(cal, now, "08:30")
        if day is not None:
            queues.setdefault(day, now)
    assert {w: t.tz_convert("Europe/Berlin").strftime("%a %d %H:%M") for w, t in digests.items()} == {
        "2026-W50": "Mon 07 08:00", "2026-W51": "Mon 14 08:00"}  # fmt: skip
    assert sorted(queues) == ["2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10", "2026-12-11", "2026-12-14",
                              "2026-12-15"]  # fmt: skip
    assert all(t.tz_convert("Europe/Berlin").strftime("%H:%M") == "08:30" for t in queues.values())
