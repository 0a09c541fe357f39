"""The deal metrics per period from one GROUP BY query (data.deal_aggregates) equal the pandas engine (the oracle).

On SQLite and PostgreSQL (the ``engine`` fixture), on small Hypothesis-made companies (repeat handovers,
deals without lead, amount or created_at, archived, won and lost, closed after as_of, leads created after
as_of) and on the demo company: for ``sourced_pipeline`` and ``won_revenue`` commitments without a filter
and with a channel, segment, team and owner filter (names and external ids), on frames sliced by nothing, a
team, an owner or a channel, every period's ``n`` and ``actual`` of :func:`analytics.commitments.evaluate`
are :func:`deal_figures` of :func:`deal_counts`, on a grid of 12 ISO weeks and on the agreement's months.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.agreement import Agreement, parse_agreement
from analytics.commitments import evaluate
from analytics.periods import period_grid, period_of
from analytics.slicing import Slice, slice_frames
from analytics.snapshots import weekly_document
from connectors.demo import load_demo
from data import queries, upserts
from data.deal_aggregates import DEAL_METRICS, deal_counts, deal_figures
from data.frames import read_window

AGREEMENT = """
name: Deals
parties: [marketing, sales]
period: month
timezone: Europe/Berlin
calendar:
  workdays: [mon, tue, wed, thu, fri]
  hours: ["09:00", "17:30"]
commitments:
"""
COMMITMENT = "  - {id: %s, owner: marketing, metric: %s, target: 1000, filters: %s}\n"


def _agreement(filters: dict[str, str]) -> Agreement:
    """Every deal metric once per filter (``name -> YAML mapping``)."""
    lines = [COMMITMENT % (f"{m}-{name}", m, spec) for m in DEAL_METRICS for name, spec in filters.items()]
    return parse_agreement(AGREEMENT + "".join(lines))


def _check(engine, doc: Agreement, bounds: list[pd.Timestamp], frames, as_of, slices) -> Counter:
    """For each slice, each commitment's figures per period equal evaluate's; returns each commitment's deals
    counted (over the periods and slices), so a test can tell it compared more than zeros."""
    start, end = bounds[0], bounds[-1]
    counts = {m: deal_counts(engine, bounds, as_of, m) for m in DEAL_METRICS}
    owners = queries.read_owners(engine)
    periods = len(bounds) - 1
    counted: Counter = Counter()
    for selection in slices:
        sliced = slice_frames(
            frames, teams=selection.teams, owners=selection.owners, channels=selection.channels
        )
        result = evaluate(doc, sliced, start, end, as_of)
        for c in doc.commitments:
            where = f"{c.id} as of {as_of}, slice {selection}, periods from {start}"
            got = deal_figures(counts[c.metric], tuple(c.filters.items()), selection, owners, periods)
            assert list(got.index) == list(range(periods)), where
            assert got["n"].dtype == "int64" and got["actual"].dtype == "float64", where
            rows = result[result["commitment"] == c.id]
            pos = pd.Index(bounds[:-1]).get_indexer(rows["period_start"])
            assert (pos >= 0).all(), where
            want_n, want_actual = np.zeros(periods, dtype="int64"), np.zeros(periods)
            want_n[pos], want_actual[pos] = rows["n"].to_numpy(), rows["actual"].to_numpy()
            assert got["n"].tolist() == want_n.tolist(), where
            assert got["actual"].to_numpy() == pytest.approx(want_actual, rel=1e-9, abs=1e-9), where
            counted[c.id] += int(want_n.sum())
    return counted


def _grids(doc: Agreement, last_week_start: pd.Timestamp, month_start, month_end):
    """12 ISO weeks up to the week holding ``last_week_start`` and the months of [month_start, month_end)."""
    weeks = period_grid("week", doc.timezone, last_week_start - pd.Timedelta(weeks=11), last_week_start)
    months = period_grid(doc.period, doc.timezone, month_start, month_end)
    return [
        (weekly_document(doc, None), [*weeks["period_start"], weeks["period_end"].iloc[-1]]),
        (doc, [*months["period_start"], months["period_end"].iloc[-1]]),
    ]


# --- small made-up companies -------------------------------------------------------------------------------

_BASE = pd.Timestamp("2026-01-20T00:00", tz="UTC")
_hours = st.integers(min_value=0, max_value=80 * 24)
SMALL_FILTERS = {
    "all": "{}",
    "channel": "{channel: [web, partner]}",
    "segment": "{segment: [SMB]}",
    "team": "{team: [EMEA]}",
    "owner": "{owner: [Ann, o2]}",
    "owner-missing": "{owner: [nobody]}",
    "both": "{channel: [web], segment: [SMB, Mid]}",
}


@st.composite
def small_company(draw):
    at = lambda hours: _BASE + pd.Timedelta(hours=hours)  # noqa: E731
    maybe = lambda: draw(st.one_of(st.none(), _hours))  # noqa: E731
    n = draw(st.integers(min_value=1, max_value=10))
    leads = pd.DataFrame({
        "source": "t", "external_id": [f"L{i}" for i in range(n)],
        "created_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(n)],
        "mql_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(n)],
        "owner_external_id": [draw(st.sampled_from(["o1", "o2", "nobody", None])) for _ in range(n)],
        "channel": [draw(st.sampled_from(["web", "event", None])) for _ in range(n)],
        "segment": [draw(st.sampled_from(["SMB", "Mid", None])) for _ in range(n)],
        "archived": [draw(st.booleans()) and draw(st.booleans()) for _ in range(n)],
    })  # fmt: skip
    k = draw(st.integers(min_value=0, max_value=12))
    won = [draw(st.sampled_from([True, False, None])) for _ in range(k)]
    deals = pd.DataFrame({
        "source": "t", "external_id": [f"D{i}" for i in range(k)],
        "lead_external_id": [draw(st.sampled_from([*leads["external_id"], "gone", None])) for _ in range(k)],
        "created_at": [pd.NaT if draw(st.integers(0, 5)) == 0 else at(draw(_hours)) for _ in range(k)],
        "closed_at": [pd.NaT if (h := maybe()) is None else at(h) for _ in range(k)],
        "is_won": won,
        "is_closed": [w is not None for w in won],
        "amount": [draw(st.sampled_from([None, 100.0, 250.5, 0.1])) for _ in range(k)],
        "owner_external_id": [draw(st.sampled_from(["o1", "o2", "o3", "nobody", None])) for _ in range(k)],
        "channel": [draw(st.sampled_from(["web", "partner", None])) for _ in range(k)],
        "archived": [draw(st.booleans()) and draw(st.booleans()) for _ in range(k)],
    })  # fmt: skip
    recycled = draw(st.lists(st.sampled_from(list(leads["external_id"])), unique=True, max_size=3))
    handovers = pd.DataFrame(
        [
            {"source": "t", "lead_external_id": lead, "mql_at": at(h), "recycled": i > 0}
            for lead in recycled
            for i, h in enumerate(sorted(draw(st.lists(_hours, min_size=2, max_size=3))))
        ],
        columns=["source", "lead_external_id", "mql_at", "recycled"],
    )
    return leads, deals, handovers


def _store(engine, leads, deals, handovers) -> None:
    with engine.begin() as conn:
        for table in ("handovers", "deals", "leads", "owners"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    upserts.upsert_owners(engine, pd.DataFrame({
        "source": "t", "external_id": ["o1", "o2", "o3"], "name": ["Ann", "Bo", "Cy"],
        "team": ["EMEA", None, "Americas"],
    }))  # fmt: skip
    upserts.upsert_leads(engine, leads)
    if len(deals):
        upserts.upsert_deals(engine, deals)
    if len(handovers):
        upserts.replace_handovers(engine, handovers)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(company=small_company(), as_of_hours=st.lists(st.integers(0, 100 * 24), min_size=1, max_size=2))
def test_deal_figures_equal_the_pandas_engine_on_small_data(engine, company, as_of_hours):
    _store(engine, *company)
    doc = _agreement(SMALL_FILTERS)
    ann = int(queries.read_owners(engine).set_index("name").loc["Ann", "id"])
    slices = [Slice(), Slice(teams=("EMEA",)), Slice(owners=(ann,)), Slice(channels=("web",)),
              Slice(teams=("EMEA", "Americas"), channels=("web", "event"))]  # fmt: skip
    for grid_doc, bounds in _grids(doc, _BASE + pd.Timedelta(days=70), "2026-01-01", "2026-04-15"):
        frames = read_window(engine, bounds[0], bounds[-1])
        for hours in as_of_hours:  # inside the periods, and after them all (the last ones)
            as_of = _BASE + pd.Timedelta(hours=hours, minutes=30)
            _check(engine, grid_doc, bounds, frames, as_of, slices)


def test_repeat_handovers_archived_and_late_rows_follow_the_engine(engine):
    """A lead handed over twice: its deal before the first handover counts only once that handover is known;
    a deal of an archived lead keeps its own channel; a close or a creation after as_of is not there yet."""
    at = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731
    leads = pd.DataFrame({
        "source": "t", "external_id": ["L1", "L2", "L3"], "owner_external_id": ["o1", "o2", "o1"],
        "created_at": [at("2026-01-02"), at("2026-01-02"), at("2026-03-01")],
        "mql_at": [at("2026-02-10"), at("2026-01-05"), at("2026-03-02")],
        "channel": ["event", "web", "web"], "segment": ["SMB", "SMB", "SMB"], "archived": [False, True, False],
    })  # fmt: skip
    deals = pd.DataFrame({
        "source": "t", "external_id": ["D1", "D2", "D3", "D4", "D5"],
        "lead_external_id": ["L1", "L1", "L2", "L3", None],
        "created_at": [at("2026-01-20"), at("2026-02-20"), at("2026-01-21"), at("2026-02-15"), pd.NaT],
        "closed_at": [at("2026-02-25"), at("2026-03-20"), at("2026-01-30"), at("2026-02-20"), at("2026-02-11")],
        "is_won": [True, True, True, False, True], "is_closed": True,
        "amount": [100.0, 200.0, None, 50.0, 7.0], "owner_external_id": ["o1", "o2", "o1", "o1", "o3"],
        "channel": ["partner", "partner", "partner", "partner", "web"], "archived": False,
    })  # fmt: skip
    handovers = pd.DataFrame({
        "source": "t", "lead_external_id": ["L1", "L1"], "mql_at": [at("2026-01-25"), at("2026-02-10")],
        "recycled": [False, True],
    })  # fmt: skip
    _store(engine, leads, deals, handovers)
    doc = _agreement({"all": "{}", "partner": "{channel: [partner]}", "smb": "{segment: [SMB]}"})
    months = period_grid("month", doc.timezone, "2026-01-01", "2026-04-01")
    bounds = [*months["period_start"], months["period_end"].iloc[-1]]
    counts = deal_counts(engine, bounds, at("2026-03-31"), "sourced_pipeline")
    owners = queries.read_owners(engine)
    # D1 (L1's first window, handed over 25 Jan) in January; D2 (its second window) and D4 (its lead exists
    # and is handed over by as_of, though after the deal) in February; D3's lead is archived; D5 has none.
    assert deal_figures(counts, (), Slice(), owners, 3).to_dict("list") == {
        "n": [1, 2, 0],
        "actual": [100.0, 250.0, 0.0],
    }
    early = deal_counts(engine, bounds, at("2026-01-30"), "sourced_pipeline")  # L3 not created yet
    assert deal_figures(early, (), Slice(), owners, 3).to_dict("list") == {
        "n": [1, 0, 0],
        "actual": [100.0, 0, 0],
    }
    won = deal_counts(engine, bounds, at("2026-03-01"), "won_revenue")
    # D3 (no amount) keeps its own channel, its lead archived; D1 takes its lead's; D5 (undated creation,
    # no lead) counts by its close; D4 is lost; D2 closes after as_of.
    assert deal_figures(won, (), Slice(), owners, 3).to_dict("list") == {
        "n": [1, 2, 0],
        "actual": [0.0, 107.0, 0.0],
    }
    figures = deal_figures(won, (("channel", ("partner",)),), Slice(), owners, 3)
    assert figures.to_dict("list") == {"n": [1, 0, 0], "actual": [0.0, 0.0, 0.0]}
    # Without a live lead a deal has no segment: D3 (its lead archived) is no SMB deal.
    figures = deal_figures(won, (("segment", ("SMB",)),), Slice(), owners, 3)
    assert figures.to_dict("list") == {"n": [0, 1, 0], "actual": [0.0, 100.0, 0.0]}
    frames = read_window(engine, bounds[0], bounds[-1])
    for as_of in ("2026-01-22", "2026-01-26", "2026-02-21", "2026-03-05", "2026-03-31"):
        _check(engine, doc, bounds, frames, at(as_of), [Slice(), Slice(channels=("partner",))])


def test_the_arguments_are_checked(engine):
    bounds = [pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-02-01", tz="UTC")]
    with pytest.raises(ValueError, match="unknown deal metric 'mql_count'"):
        deal_counts(engine, bounds, bounds[1], "mql_count")
    counts = deal_counts(engine, bounds, bounds[1], "won_revenue")
    assert counts.empty and list(counts.columns) == [
        "pos", "channel", "segment", "source", "owner_external_id", "owner_id", "team", "n", "amount",
    ]  # fmt: skip
    owners = queries.read_owners(engine)
    with pytest.raises(ValueError, match="unknown filter 'region'"):
        deal_figures(counts, (("region", ("EMEA",)),), Slice(), owners, 1)
    assert deal_figures(counts, (), Slice(), owners, 2).to_dict("list") == {"n": [0, 0], "actual": [0.0, 0.0]}


# --- the demo company ----------------------------------------------------------------------------------------

TODAY = dt.date(2026, 3, 16)


def test_deal_figures_equal_the_pandas_engine_on_the_demo(engine):
    load_demo(engine, leads=2_000, today=TODAY)
    with engine.begin() as conn:  # some archived leads and deals: they leave every figure
        conn.execute(sa.text("UPDATE leads SET archived = :yes WHERE id % 23 = 0"), {"yes": True})
        conn.execute(sa.text("UPDATE deals SET archived = :yes WHERE id % 17 = 0"), {"yes": True})
    assert queries.count_handovers(engine) > 0
    owners = queries.read_owners(engine)
    named = owners.dropna(subset=["team"])
    owner = int(named["id"].iloc[1])
    owner_names = [named["name"].iloc[0], str(named["external_id"].iloc[2])]
    frames_all = read_window(
        engine, pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2026-04-01", tz="UTC")
    )
    channel = frames_all["leads"]["channel"].dropna().value_counts().index[0]
    segment = frames_all["leads"]["segment"].dropna().value_counts().index[0]
    team = named["team"].iloc[0]
    doc = _agreement({
        "all": "{}",
        "channel": f"{{channel: ['{channel}']}}",
        "segment": f"{{segment: ['{segment}']}}",
        "team": f"{{team: ['{team}']}}",
        "owner": f"{{owner: [{', '.join(repr(o) for o in owner_names)}]}}",
    })  # fmt: skip
    slices = [Slice(), Slice(teams=(team,)), Slice(owners=(owner,)), Slice(channels=(channel,))]
    counted: Counter = Counter()
    for as_of in ("2025-11-20T10:00", "2026-02-02T08:00", "2026-03-16T16:00"):
        moment = pd.Timestamp(as_of, tz="UTC")
        month = period_of(moment, doc.period, doc.timezone)
        for grid_doc, bounds in _grids(doc, moment, month["period_start"], month["period_end"]):
            frames = read_window(engine, bounds[0], bounds[-1])
            counted += _check(engine, grid_doc, bounds, frames, moment, slices)
    # Every commitment (week and month versions alike) compared deals, not only zeros.
    assert {c.id for c in doc.commitments} == {c for c, n in counted.items() if n > 0}, counted
