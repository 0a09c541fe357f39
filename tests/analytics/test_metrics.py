"""Metrics: every registered metric against a slow row-by-row oracle, plus hand-computed cases."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.agreement import Agreement, parse_document
from analytics.commitments import evaluate
from analytics.metrics import (
    BREACHED,
    GLOSSARY,
    KINDS,
    MET,
    METRICS,
    PENDING,
    Facts,
    MetricError,
    aggregate,
    deadline_status,
    metric,
    positions,
    prepare_frames,
)
from analytics.schema import SchemaError
from tests.analytics.conftest import (
    agreement,
    commitment,
    make_frames,
    scenarios,
    slow_business_seconds,
    slow_period_label,
    ts,
)

# --- the oracle: one obvious function per metric, over plain Python rows -------------------------


def _known(value, as_of):
    return value if value is not None and not pd.isna(value) and value <= as_of else None


def _status(taken, elapsed, limit):
    if taken is not None and not math.isnan(taken):
        return MET if taken <= limit else BREACHED
    return BREACHED if elapsed > limit else PENDING


class Oracle:
    """Slow, obvious answers: loops over rows, Python datetimes, a day-by-day business clock."""

    def __init__(self, doc: Agreement, frames: dict[str, pd.DataFrame], as_of: pd.Timestamp):
        self.doc, self.as_of = doc, as_of
        rows = {t: [_plain(r) for r in f.to_dict("records")] for t, f in frames.items()}
        self.owners = rows["owners"]
        self.leads_all = [r for r in rows["leads"] if not r["archived"]]
        self.leads = [
            r for r in rows["leads"] if not r["archived"] and _known(r["mql_at"], as_of) is not None
        ]
        self.deals = [
            r
            for r in rows["deals"]
            if not r["archived"] and not (r["created_at"] is not None and r["created_at"] > as_of)
        ]
        self.activities = [r for r in rows["activities"] if not r["archived"]]

    def calendar(self, lead):
        return self.doc.calendar_for(lead["team"] if lead["team"] in self.doc.teams else None)

    def seconds(self, lead, end):
        return (
            slow_business_seconds(lead["mql_at"], end, self.calendar(lead)) if end is not None else math.nan
        )

    def label(self, instant):
        return slow_period_label(instant, self.doc.period, self.doc.timezone)

    def passes(self, row, filters, table):
        for name, accepted in filters.items():
            if name == "owner":
                chosen = [o for o in self.owners if o["name"] in accepted or o["external_id"] in accepted]
                ids = {o["id"] for o in chosen}
                external = set(accepted) | {o["external_id"] for o in chosen}
                if row["owner_id"] not in ids and row.get("owner_external_id") not in external:
                    return False
            elif name == "segment" and table == "deals":
                lead = next((r for r in self.leads_all if r["id"] == row["lead_id"]), None)
                if lead is None or lead["segment"] not in accepted:
                    return False
            elif name == "channel" and table == "deals":
                # a deal takes its lead's channel, its own only without a (live) lead
                lead = next((r for r in self.leads_all if r["id"] == row["lead_id"]), None)
                if (lead["channel"] if lead is not None else row["channel"]) not in accepted:
                    return False
            elif row[name] not in accepted:
                return False
        return True

    # per-row values, keyed by period label
    def values(self, name, params, filters):
        out = defaultdict(list)
        if METRICS[name].table == "leads":
            for lead in self.leads:
                if self.passes(lead, filters, "leads"):
                    out[self.label(lead["mql_at"])].append(getattr(self, name)(lead, params))
        else:
            for deal in self.deals:
                at = _known(deal[METRICS[name].at], self.as_of)
                if at is not None and self.passes(deal, filters, "deals"):
                    out[self.label(at)].append(getattr(self, name)(deal, params))
        return out

    # lead metrics
    def mql_count(self, lead, p):
        return 1.0

    def reached_sql(self, lead):
        # sales-qualified by as_of, or a deal of the lead exists by then (an opportunity is qualified)
        return bool(_known(lead["sql_at"], self.as_of)) or any(d["lead_id"] == lead["id"] for d in self.deals)

    def sql_count(self, lead, p):
        return 1.0 if self.reached_sql(lead) else 0.0

    def mql_to_sql_rate(self, lead, p):
        return MET if self.reached_sql(lead) else BREACHED

    def acceptance_rate(self, lead, p):
        decided_later = lead["disposition_at"] is not None and lead["disposition_at"] > self.as_of
        disposition = "open" if decided_later else lead["disposition"]
        return {"accepted": MET, "rejected": BREACHED}.get(disposition, PENDING)

    def followed_up_within(self, lead, p):
        taken = self.seconds(lead, _known(lead["first_touch_at"], self.as_of))
        return _status(taken, self.seconds(lead, self.as_of), p["business_hours"] * 3600)

    def touches_within(self, lead, p):
        times = sorted(
            a["occurred_at"]
            for a in self.activities
            if a["lead_id"] == lead["id"]
            and _known(a["occurred_at"], self.as_of)
            and a["occurred_at"] >= lead["mql_at"]
            and (p.get("kinds") is None or a["kind"] in p["kinds"])
        )
        nth = times[p["touches"] - 1] if len(times) >= p["touches"] else None
        return _status(self.seconds(lead, nth), self.seconds(lead, self.as_of), self.day_limit(lead, p))

    def dispositioned_within(self, lead, p):
        taken = self.seconds(lead, _known(lead["disposition_at"], self.as_of))
        return _status(taken, self.seconds(lead, self.as_of), self.day_limit(lead, p))

    def day_limit(self, lead, p):
        cal = self.calendar(lead)
        if p.get("reading", "business_time") == "business_time":
            return p["business_days"] * cal.day_seconds
        # end_of_day: walk the local days after the handover's date to the Nth working one, take its close
        day, left = lead["mql_at"].tz_convert(cal.timezone).date(), int(p["business_days"])
        while left:
            day += dt.timedelta(days=1)
            left -= day.weekday() in cal.workdays and day not in cal.holidays
        close = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=cal.closing_seconds)
        return self.seconds(lead, pd.Timestamp(close).tz_localize(cal.timezone).tz_convert("UTC"))

    def response_time_median(self, lead, p):
        return self.seconds(lead, _known(lead["first_touch_at"], self.as_of)) / 3600

    response_time_p90 = response_time_median

    # deal metrics
    def sourced_pipeline(self, deal, p):
        marketing = any(lead["id"] == deal["lead_id"] for lead in self.leads)
        return (deal["amount"] or 0.0) if marketing else math.nan  # NaN: the deal does not count

    def won_revenue(self, deal, p):
        return (deal["amount"] or 0.0) if deal["is_won"] else math.nan

    def actual(self, name, values):
        kind = METRICS[name].kind
        if kind in ("count", "amount"):
            return float(sum(v for v in values if not math.isnan(v)))
        if kind == "rate":
            met, breached = values.count(MET), values.count(BREACHED)
            return met / (met + breached) if met + breached else math.nan
        measured = [v for v in values if not math.isnan(v)]
        return float(np.quantile(measured, METRICS[name].quantile)) if measured else math.nan


def _plain(record):
    return {k: (None if (not isinstance(v, list | tuple) and pd.isna(v)) else v) for k, v in record.items()}


ORACLE_METRICS = {name for name in dir(Oracle) if name in METRICS}

FILTERS = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"channel": st.just(["Paid Search"])}),
    st.fixed_dictionaries({"team": st.just(["A", "B"])}),
    st.fixed_dictionaries({"owner": st.sampled_from([["Ann"], ["o-2"]])}),
    st.fixed_dictionaries({"segment": st.just(["smb"])}),
)


@st.composite
def every_metric(draw):
    params = {
        "followed_up_within": {"business_hours": draw(st.sampled_from([0.5, 1, 4, 8.5, 24]))},
        "touches_within": {
            "touches": draw(st.integers(1, 3)),
            **draw(
                st.sampled_from(
                    [
                        {"business_days": 0.5},
                        {"business_days": 2},
                        {"business_days": 5},
                        {"business_days": 1, "reading": "end_of_day"},
                        {"business_days": 3, "reading": "end_of_day"},
                    ]
                )
            ),
            **({"kinds": ["call", "email"]} if draw(st.booleans()) else {}),
        },
        "dispositioned_within": draw(
            st.sampled_from(
                [
                    {"business_days": 0.25},
                    {"business_days": 1},
                    {"business_days": 2, "reading": "end_of_day"},
                    {"business_days": 1, "reading": "end_of_day"},
                ]
            )
        ),
    }
    found = []
    for name in sorted(METRICS):
        found.append(commitment(name, name, None, params=params.get(name, {})))
        found.append(
            commitment(f"{name}-filtered", name, None, params=params.get(name, {}), filters=draw(FILTERS))
        )
    return draw(scenarios(commitments=found))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(every_metric())
def test_every_metric_matches_the_row_by_row_oracle(scenario):
    document, frames, as_of = scenario
    doc = parse_document(document)
    result = evaluate(doc, frames, "2025-12-01", "2026-08-01", as_of)
    oracle = Oracle(doc, frames, as_of)
    for c in doc.commitments:
        expected = oracle.values(c.metric, c.params, c.filters.model_dump(exclude_none=True))
        rows = result[result["commitment"] == c.id]
        assert (rows["period_start"] <= as_of).all()
        assert set(expected) <= set(rows["period"]), (c.id, set(expected) - set(rows["period"]))
        for _, row in rows.iterrows():
            values = expected.get(row["period"], [])
            want = oracle.actual(c.metric, values)
            counted = (
                [v for v in values if not math.isnan(v)] if METRICS[c.metric].kind == "amount" else values
            )
            assert row["n"] == len(counted), (c.id, row["period"])  # an amount counts the deals it sums
            if math.isnan(want):
                assert math.isnan(row["actual"]), (c.id, row["period"], row["actual"])
            else:
                assert row["actual"] == pytest.approx(want, rel=1e-9, abs=1e-6), (c.id, row["period"])
            if METRICS[c.metric].kind == "rate":
                assert 0 <= row["actual"] <= 1 or math.isnan(row["actual"])
                got = (row["met"], row["breached"], row["pending"])
                assert got == (values.count(MET), values.count(BREACHED), values.count(PENDING)), (
                    c.id,
                    row["period"],
                )


# --- the registry --------------------------------------------------------------------------------


def test_every_metric_has_an_oracle_a_definition_and_a_glossary_entry():
    assert set(METRICS) == ORACLE_METRICS, "a new metric needs an oracle method in this file"
    required = {"mql_count", "sql_count", "sourced_pipeline", "won_revenue", "mql_to_sql_rate", "acceptance_rate",
                "followed_up_within", "touches_within", "dispositioned_within", "response_time_median",
                "response_time_p90"}  # fmt: skip
    assert required <= set(METRICS)
    for name, m in METRICS.items():
        assert m.kind in KINDS
        assert len(m.description) > 20, name
        assert name in GLOSSARY and GLOSSARY[name].strip(), name
        assert m.lower_is_better == (m.kind == "duration")


def test_glossary_defines_every_status_and_term():
    for term in ("met", "missed", "on track", "at risk", "off track", "pending", "breached", "no target", "no data",
                 "gap", "projection", "expected to date", "business day", "baseline", "version in force"):  # fmt: skip
        assert GLOSSARY.get(term, "").strip(), term


def test_registering_a_metric_twice_or_with_a_bad_kind_is_refused():
    with pytest.raises(MetricError, match="registered twice"):
        metric("mql_count", kind="count", unit="leads")(lambda facts, params: None)
    with pytest.raises(MetricError, match="unknown kind"):
        metric("x_metric", kind="ratio", unit="leads")  # type: ignore[arg-type]
    with pytest.raises(MetricError, match="has no column"):
        metric("y_metric", kind="count", unit="leads", at="won_at")


# --- hand-computed cases --------------------------------------------------------------------------

AS_OF = ts("2026-03-20 12:00")
# UTC, Mon-Fri 09:00-17:00. 2026-03-06 is a Friday.


def _one(doc, frames, cid, period=None, as_of=AS_OF, **kw):
    result = evaluate(doc, frames, "2026-03-01", "2026-04-01", as_of, **kw)
    rows = result[result["commitment"] == cid]
    return rows if period is None else rows[rows["period"] == period].iloc[0]


def test_follow_up_clock_runs_in_business_time_over_the_weekend():
    doc = agreement(
        commitments=[commitment("speed", "followed_up_within", 0.9, params={"business_hours": 4})]
    )
    frames = make_frames(
        leads=[
            # Fri 15:00 -> Mon 11:00: 2 h Friday + 2 h Monday = 4 h: met (the limit is inclusive)
            {"mql_at": ts("2026-03-06 15:00"), "first_touch_at": ts("2026-03-09 11:00")},
            # Fri 15:00 -> Mon 11:01: 4 h 1 min: breached
            {"mql_at": ts("2026-03-06 15:00"), "first_touch_at": ts("2026-03-09 11:01")},
            # Sat 10:00 -> Mon 12:30: the clock starts Monday 09:00: 3.5 h: met
            {"mql_at": ts("2026-03-07 10:00"), "first_touch_at": ts("2026-03-09 12:30")},
            # untouched, handed over Thu 19 16:00; as_of Fri 20 12:00 = 1 h + 3 h = 4 h: not over yet: pending
            {"mql_at": ts("2026-03-19 16:00")},
            # untouched, handed over Wed 18 10:00: 7 h + 8 h + 3 h by as_of: breached
            {"mql_at": ts("2026-03-18 10:00")},
            # touched before the handover: counts as immediate: met
            {"mql_at": ts("2026-03-10 10:00"), "first_touch_at": ts("2026-03-10 09:00")},
            # touched after as_of: not known yet, and the limit passed: breached
            {"mql_at": ts("2026-03-02 10:00"), "first_touch_at": ts("2026-03-25 10:00")},
        ]
    )
    row = _one(doc, frames, "speed", "2026-03")
    assert (row["met"], row["breached"], row["pending"]) == (3, 3, 1)
    assert row["actual"] == pytest.approx(3 / 6)  # pending is shown, not counted


def test_touches_within_counts_activities_from_the_handover_on():
    doc = agreement(
        commitments=[commitment("touch", "touches_within", 0.8, params={"touches": 2, "business_days": 1})]
    )
    frames = make_frames(
        leads=[{"mql_at": ts("2026-03-06 15:00")}, {"mql_at": ts("2026-03-06 15:00")}],
        activities=[
            # lead 1: one touch before the handover does not count; then Fri 16:00 and Mon 15:00 (2 h + 6 h = 8 h)
            {"lead_id": 1, "kind": "email", "occurred_at": ts("2026-03-06 14:00")},
            {"lead_id": 1, "kind": "call", "occurred_at": ts("2026-03-06 16:00")},
            {"lead_id": 1, "kind": "call", "occurred_at": ts("2026-03-09 15:00")},
            # lead 2: second touch Mon 15:01 -> 8 h 1 min > 1 business day (8 h): breached
            {"lead_id": 2, "kind": "call", "occurred_at": ts("2026-03-06 15:30")},
            {"lead_id": 2, "kind": "call", "occurred_at": ts("2026-03-09 15:01")},
        ],
    )
    row = _one(doc, frames, "touch", "2026-03")
    assert (row["met"], row["breached"], row["pending"]) == (1, 1, 0)


def test_disposition_within_business_days_and_acceptance_rate():
    doc = agreement(
        commitments=[
            commitment("decide", "dispositioned_within", 0.9, params={"business_days": 2}),
            commitment("accept", "acceptance_rate", 0.8, owner="marketing"),
        ]
    )
    frames = make_frames(
        leads=[
            # Thu 12:00 -> Mon 12:00 = 5 + 8 + 3 = 16 h = 2 business days: met
            {
                "mql_at": ts("2026-03-05 12:00"),
                "disposition": "accepted",
                "disposition_at": ts("2026-03-09 12:00"),
            },
            # Thu 12:00 -> Mon 12:01: breached
            {
                "mql_at": ts("2026-03-05 12:00"),
                "disposition": "rejected",
                "disposition_at": ts("2026-03-09 12:01"),
            },
            # rejected after as_of: still open at as_of, and 2 days passed: breached; pending for acceptance
            {
                "mql_at": ts("2026-03-05 12:00"),
                "disposition": "rejected",
                "disposition_at": ts("2026-03-30 12:00"),
            },
            {
                "mql_at": ts("2026-03-05 12:00"),
                "disposition": "accepted",
                "disposition_at": ts("2026-03-05 13:00"),
            },
        ]
    )
    decide = _one(doc, frames, "decide", "2026-03")
    assert (decide["met"], decide["breached"], decide["pending"]) == (2, 2, 0)
    accept = _one(doc, frames, "accept", "2026-03")
    assert (accept["met"], accept["breached"], accept["pending"]) == (2, 1, 1)
    assert accept["actual"] == pytest.approx(2 / 3)


def test_lead_counts_in_the_period_of_its_handover_in_the_agreement_timezone():
    doc = agreement(
        timezone="Europe/Berlin",
        commitments=[
            commitment("mqls", "mql_count", 1, owner="marketing"),
            commitment("sqls", "sql_count", 1),
        ],
    )
    frames = make_frames(
        leads=[
            {
                "mql_at": ts("2026-03-31 22:30"),
                "sql_at": ts("2026-04-02 10:00"),
            },  # 00:30 on April 1st in Berlin
            {
                "mql_at": ts("2026-03-31 21:30"),
                "sql_at": ts("2026-04-02 10:00"),
            },  # 23:30 on March 31st in Berlin
            {"mql_at": ts("2026-03-10 10:00")},
            {"created_at": ts("2026-03-10 10:00")},  # never handed over: not a marketing lead
            {"mql_at": ts("2026-03-11 10:00"), "archived": True},  # archived: gone
        ]
    )
    result = evaluate(doc, frames, "2026-03-01", "2026-05-01", ts("2026-04-20 12:00"))
    mqls = result[result["commitment"] == "mqls"].set_index("period")["actual"]
    assert mqls.to_dict() == {"2026-03": 2.0, "2026-04": 1.0}
    # sql_count is a cohort count: the March lead that became SQL in April counts in March
    sqls = result[result["commitment"] == "sqls"].set_index("period")["actual"]
    assert sqls.to_dict() == {"2026-03": 1.0, "2026-04": 1.0}


def test_pipeline_counts_by_created_at_and_won_revenue_by_closed_at():
    doc = agreement(
        commitments=[
            commitment("pipe", "sourced_pipeline", 1000, owner="marketing"),
            commitment("won", "won_revenue", 1000, owner="marketing"),
        ]
    )
    frames = make_frames(
        leads=[{"mql_at": ts("2026-02-10 10:00")}, {"created_at": ts("2026-02-10 10:00")}],
        deals=[
            # marketing lead, created in March, won in April
            {"lead_id": 1, "created_at": ts("2026-03-05"), "closed_at": ts("2026-04-02"), "amount": 500.0,
             "is_won": True, "is_closed": True},
            # lead without mql_at: not sourced pipeline, but won revenue in March
            {"lead_id": 2, "created_at": ts("2026-03-06"), "closed_at": ts("2026-03-20"), "amount": 300.0,
             "is_won": True, "is_closed": True},
            # no lead: not sourced; lost: no revenue
            {"lead_id": None, "created_at": ts("2026-03-07"), "closed_at": ts("2026-03-21"), "amount": 200.0,
             "is_won": False, "is_closed": True},
            # marketing lead, amount unknown: counts as 0
            {"lead_id": 1, "created_at": ts("2026-03-08"), "amount": None},
        ],
    )  # fmt: skip
    result = evaluate(doc, frames, "2026-03-01", "2026-05-01", ts("2026-04-20 12:00"))
    actual = result.set_index(["commitment", "period"])["actual"].to_dict()
    assert actual[("pipe", "2026-03")] == 500.0
    assert actual[("pipe", "2026-04")] == 0.0
    assert actual[("won", "2026-03")] == 300.0
    assert actual[("won", "2026-04")] == 500.0


def test_response_time_quantiles_are_of_touched_leads_only():
    doc = agreement(
        commitments=[
            commitment("median", "response_time_median", 2),
            commitment("p90", "response_time_p90", 6),
            commitment("conv", "mql_to_sql_rate", 0.3, owner="marketing"),
        ]
    )
    hours = [1, 2, 3, 4, 10]  # business hours after Mon 9 March 09:00
    frames = make_frames(
        leads=[{"mql_at": ts("2026-03-09 09:00"), "first_touch_at": ts("2026-03-09 09:00") + pd.Timedelta(hours=h),
                "sql_at": ts("2026-03-10") if h < 3 else None} for h in hours[:4]]
        + [{"mql_at": ts("2026-03-09 09:00"), "first_touch_at": ts("2026-03-10 11:00")}, {"mql_at": ts("2026-03-09")}]
    )  # fmt: skip
    result = evaluate(doc, frames, "2026-03-01", "2026-04-01", AS_OF).set_index("commitment")
    assert result.loc["median", "actual"] == 3.0
    assert result.loc["p90", "actual"] == pytest.approx(4 + 0.6 * (10 - 4))  # linear interpolation
    assert result.loc["conv", "actual"] == pytest.approx(2 / 6)  # every handed-over lead is decided
    assert result.loc["median", "status"] == "off track"  # 3 h against 2 h, lower is better


def test_deadline_status_edges():
    limit = 100.0
    taken = np.array([100.0, 100.000001, np.nan, np.nan, 0.0])
    elapsed = np.array([0.0, 0.0, 100.0, 100.5, 0.0])
    assert deadline_status(taken, elapsed, limit).tolist() == [MET, BREACHED, PENDING, BREACHED, MET]


def test_aggregate_rates_and_counts_by_key():
    rate = METRICS["followed_up_within"]
    out = aggregate(rate, np.array([MET, MET, BREACHED, PENDING, MET]), np.array([0, 0, 0, 0, -1]), 2)
    assert out.loc[0, ["met", "breached", "pending", "n"]].tolist() == [2, 1, 1, 4]
    assert math.isnan(out.loc[1, "actual"])
    count = aggregate(METRICS["mql_count"], np.ones(3), np.array([1, 1, -1]), 2)
    assert count["actual"].tolist() == [0.0, 2.0]


def test_team_calendar_is_used_for_the_team_s_leads():
    doc = agreement(
        commitments=[commitment("speed", "followed_up_within", 0.9, params={"business_hours": 2})],
        teams={"NY": {"timezone": "America/New_York"}},
    )
    # 12:00 UTC -> 15:00 UTC. UTC: 3 business hours (breached). New York (EDT since 8 March): 08:00 -> 11:00
    # local, the clock starts at 09:00: 2 h (met).
    lead = {"mql_at": ts("2026-03-10 12:00"), "first_touch_at": ts("2026-03-10 15:00")}
    frames = make_frames(leads=[{**lead, "team": "NY"}, {**lead, "team": "London"}, lead])
    row = _one(doc, frames, "speed", "2026-03")
    assert (row["met"], row["breached"]) == (1, 2)


def test_filters_match_channel_team_segment_and_owner_by_name_or_external_id():
    frames = make_frames(
        owners=[{"id": 1, "name": "Ann", "external_id": "hs-1"}, {"id": 2, "name": "Bo", "external_id": "hs-2"}],
        leads=[
            {"mql_at": ts("2026-03-02"), "channel": "Events", "team": "A", "segment": "smb", "owner_id": 1},
            {"mql_at": ts("2026-03-02"), "channel": "Paid Search", "team": "B", "segment": "smb", "owner_id": 2},
            {"mql_at": ts("2026-03-02"), "channel": None, "team": None, "segment": None, "owner_id": None,
             "owner_external_id": "hs-2"},
        ],
    )  # fmt: skip
    cases = {
        "ch": ({"channel": ["Events", "Social"]}, 1),
        "team": ({"team": ["B"]}, 1),
        "seg": ({"segment": ["smb"]}, 2),
        "by-name": (
            {"owner": ["Bo"]},
            2,
        ),  # owner 2 by id, and the lead whose owner is known only by external id
        "by-ext": ({"owner": ["hs-1"]}, 1),
        "both": ({"channel": ["Events"], "team": ["B"]}, 0),
    }
    doc = agreement(
        commitments=[
            commitment(k, "mql_count", 1, owner="marketing", filters=f) for k, (f, _) in cases.items()
        ]
    )
    result = evaluate(doc, frames, "2026-03-01", "2026-04-01", AS_OF).set_index("commitment")["actual"]
    assert result.to_dict() == {k: float(n) for k, (_, n) in cases.items()}


def test_facts_are_computed_once_per_evaluation():
    doc = agreement()
    frames = make_frames(leads=[{"mql_at": ts("2026-03-02 10:00"), "first_touch_at": ts("2026-03-02 11:00")}])
    facts = Facts(prepare_frames(frames, AS_OF), doc.calendar_for(None))
    first = facts.seconds_to("first_touch_at")
    assert facts.seconds_to("first_touch_at") is first
    assert first.tolist() == [3600.0]


def test_duplicate_lead_ids_are_refused_with_the_column_named():
    frames = make_frames(leads=[{"id": 1, "mql_at": ts("2026-03-02")}, {"id": 1, "mql_at": ts("2026-03-03")}])
    with pytest.raises(SchemaError, match="leads.id"):
        prepare_frames(frames, AS_OF)


def test_a_frame_with_a_wrong_dtype_is_refused_naming_the_column():
    frames = make_frames(leads=[{"mql_at": ts("2026-03-02")}])
    frames["leads"] = frames["leads"].assign(mql_at=frames["leads"]["mql_at"].astype(str))
    with pytest.raises(SchemaError, match="leads.mql_at"):
        evaluate(agreement(), frames, "2026-03-01", "2026-04-01", AS_OF)


def test_as_of_must_be_timezone_aware():
    with pytest.raises(MetricError, match="timezone-aware"):
        evaluate(agreement(), make_frames(), "2026-03-01", "2026-04-01", "2026-03-20 12:00")


def test_positions_finds_ids_dense_and_sparse():
    dense = np.array([3, 1, 2])
    assert positions(dense, np.array([1, 2, 3, 4, np.iinfo(np.int64).min])).tolist() == [1, 2, 0, -1, -1]
    sparse = np.array([10**12, 5, 10**15])
    assert positions(sparse, np.array([5, 10**15, 7])).tolist() == [1, 2, -1]


def test_nth_activity_is_exact_also_for_activities_long_after_the_handover():
    rng = np.random.default_rng(5)
    mql = [ts("2026-01-05 09:00") + pd.Timedelta(hours=int(h)) for h in rng.integers(0, 500, 40)]
    activities = []
    for lead, start in enumerate(mql, start=1):
        for _ in range(rng.integers(0, 5)):
            days = rng.choice([rng.uniform(0, 3), rng.uniform(150, 400)])  # some far beyond 100 days
            activities.append({"lead_id": lead, "kind": "call",
                               "occurred_at": start + pd.Timedelta(microseconds=int(days * 86400e6))})  # fmt: skip
    frames = make_frames(leads=[{"mql_at": m} for m in mql], activities=activities)
    facts = Facts(prepare_frames(frames, ts("2027-06-01")), agreement().calendar_for(None))
    for n in (1, 2, 3):
        got = facts.nth_activity_at(n)
        for lead in range(1, len(mql) + 1):
            times = sorted(a["occurred_at"] for a in activities if a["lead_id"] == lead)
            want = times[n - 1] if len(times) >= n else pd.NaT
            assert (pd.isna(got[lead - 1]) and pd.isna(want)) or got[lead - 1] == want, (n, lead)


def test_the_one_sort_shortcut_matches_a_lexsort_on_both_of_its_paths():
    from analytics.metrics import _sorted_by_lead_then_time

    rng = np.random.default_rng(11)
    pos = rng.integers(0, 1000, 5000)
    mql = rng.integers(0, 10**9, 1000)
    for far in (1, 2**40):  # up to 2**60 us after handover: does not fit the low bits next to 1000 positions
        when = mql[pos] + rng.integers(0, 10**6, len(pos)) * np.where(rng.random(len(pos)) < 0.01, far, 1)
        got_pos, got_when = _sorted_by_lead_then_time(pos, when, mql)
        pairs = list(zip(got_pos.tolist(), got_when.tolist(), strict=True))
        order = np.lexsort((when, pos))
        assert sorted(pairs) == list(zip(pos[order].tolist(), when[order].tolist(), strict=True))
        starts = np.r_[True, np.diff(got_pos) != 0]
        assert len(np.unique(got_pos)) == starts.sum()  # each lead's rows are together...
        assert (np.diff(got_when)[~starts[1:]] >= 0).all()  # ...and in time order
