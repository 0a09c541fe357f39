"""The Funnel page's history from aggregate queries equals the pandas engine (the oracle).

On SQLite and PostgreSQL (the ``engine`` fixture), on the demo company (recycled leads, archived deals, read
back as the pages read it) and on small Hypothesis-made data: the cohorts of :func:`analytics.funnel.funnel`
(counts, conversions, median days), the ``evaluate`` rows of sourced pipeline and won revenue and the won
deals without an amount, for several as_of x slices (none, a team, an owner, a channel), with an agreement
version that changes targets, slice targets and a filtered commitment mid-history.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.agreement import AgreementVersion, parse_agreement
from analytics.periods import period_of
from connectors.demo import load_demo
from data import queries, upserts
from data.frames import read_window
from data.funnel_aggregates import funnel_history
from data.models import Base
from tests.data.test_handovers import write_history, write_recycled_lead
from views.filters import Filters
from views.funnel import data_window, history_from_frames

DEFAULT = (Path(__file__).resolve().parents[2] / "agreements" / "sales-marketing.yaml").read_text()
TODAY = dt.date(2026, 3, 16)
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
# Version 2: another pipeline target with slice targets, and a won revenue commitment filtered to two channels.
CHANGED = """    target: 4000000
    slice_targets:
      team: {EMEA: 2500000, Americas: 1500000}
      channel: {Events: 800000, Paid Search: 700000}
    description: Deals opened from marketing leads add up to EUR 4M of pipeline a month.
  - id: won-search
    owner: sales
    metric: won_revenue
    target: 300000
    filters: {channel: [Paid Search, Organic Search]}"""


def _versions(
    changed: str = CHANGED, effective: str = "2026-02-01", text: str = DEFAULT
) -> list[AgreementVersion]:
    first = parse_agreement(text)
    second = parse_agreement(
        text.replace(
            "    target: 5000000\n    description: Deals opened from marketing leads add up to EUR 5M of pipeline "
            "a month.",
            changed,
        )
    )
    assert second.commitments != first.commitments
    start = pd.Timestamp(effective, tz=first.timezone).tz_convert("UTC")
    return [
        AgreementVersion(agreement=first.name, version=1, effective_from=EPOCH, document=first, created_at=EPOCH),
        AgreementVersion(agreement=first.name, version=2, effective_from=start, document=second, created_at=EPOCH),
    ]  # fmt: skip


def _filters(versions, period_at, as_of, **chosen) -> Filters:
    doc = versions[-1].document
    row = period_of(pd.Timestamp(period_at, tz="UTC"), doc.period, doc.timezone)
    return Filters(str(row["period"]), row["period_start"], row["period_end"], pd.Timestamp(as_of), **chosen)


def every_row(engine) -> dict[str, pd.DataFrame]:
    """Every stored row, read as the pages read rows (one lead row per handover): the pandas engine's whole data."""
    return {
        "owners": queries.read_owners(engine),
        "leads": queries.read_leads(engine),
        "deals": queries.read_deals(engine),
        "activities": queries.read_activities(engine),
    }


def check(
    engine, versions, f: Filters, history_start: pd.Timestamp, *, as_the_page_read: bool = False
) -> int:
    """The SQL history of ``f`` equals the pandas one computed from every stored row (or, with
    ``as_the_page_read``, from the frames of ``data_window`` the page read); returns the handovers counted
    (so a caller can tell an empty comparison)."""
    frames = read_window(engine, *data_window(f, history_start)) if as_the_page_read else every_row(engine)
    want = history_from_frames(versions, frames, f, history_start)
    got = funnel_history(engine, versions, f, history_start)
    pd.testing.assert_frame_equal(got.cohorts, want.cohorts, check_dtype=False, rtol=1e-9, obj="cohorts")
    assert set(got.revenue) == set(want.revenue)
    for metric, rows in want.revenue.items():
        pd.testing.assert_frame_equal(got.revenue[metric], rows, check_dtype=False, rtol=1e-9, obj=metric)
    assert got.won_missing == want.won_missing
    return int(want.cohorts["mql"].sum()) if len(want.cohorts) else 0


def test_the_demo_history_from_sql_equals_the_pandas_engine(engine):
    load_demo(engine, leads=2_000, today=TODAY)
    versions = _versions()
    owners = queries.read_owners(engine)
    owner = int(owners["id"].dropna().iloc[0])
    history_start = pd.Timestamp("2025-10-01", tz="Europe/Berlin").tz_convert("UTC")
    slices = [{}, {"teams": ("EMEA",)}, {"owners": (owner,)}, {"channels": ("Paid Search",)}]
    counted = 0
    for period_at, as_of in (
        ("2026-01-10", "2026-01-20T10:00Z"),  # before version 2
        ("2026-02-10", "2026-02-03T16:45Z"),  # just after version 2 took effect
        ("2026-02-10", "2026-03-16T00:00Z"),  # a closed period seen later: deals since count
    ):
        for chosen in slices:
            f = _filters(versions, period_at, as_of, **chosen)
            counted += check(engine, versions, f, history_start)
            check(engine, versions, f, history_start, as_the_page_read=True)
    assert counted > 2_000


def test_a_recycled_lead_counts_in_each_of_its_handover_cohorts(engine):
    write_recycled_lead(engine)
    write_history(engine)
    upserts.upsert_deals(
        engine,
        pd.DataFrame({
            "source": "crm", "external_id": ["D1", "D2"], "lead_external_id": ["L1", "L1"],
            "created_at": [pd.Timestamp("2026-01-20", tz="UTC"), pd.Timestamp("2026-03-10", tz="UTC")],
            "closed_at": [pd.NaT, pd.Timestamp("2026-03-20", tz="UTC")], "is_won": [False, True],
            "is_closed": [False, True], "amount": [1000.0, None],
        }),
    )  # fmt: skip
    versions = _versions()
    f = _filters(versions, "2026-03-10", "2026-03-31T18:00Z")
    history_start = pd.Timestamp("2026-01-01", tz="UTC")
    check(engine, versions, f, history_start)
    got = funnel_history(engine, versions, f, history_start)
    cohorts = got.cohorts.set_index("period")
    # L1 once in January (its deal D1 there: an opportunity) and once in March (D2 won), L2 in January.
    assert cohorts.loc["2026-01", ["mql", "opportunity", "won"]].tolist() == [2, 1, 0]
    assert cohorts.loc["2026-03", ["mql", "opportunity", "won"]].tolist() == [1, 1, 1]
    assert got.won_missing == (1, 1)


# --- Hypothesis: small companies with recycled, archived and late rows -------------------------------------

SMALL = """
name: Small
parties: [marketing, sales]
period: week
timezone: America/New_York
commitments:
  - {id: pipe, owner: marketing, metric: sourced_pipeline, target: 500, slice_targets: {team: {A: 300}}}
  - {id: won, owner: sales, metric: won_revenue, target: 200, filters: {channel: [web]}}
"""
_BASE = pd.Timestamp("2026-03-02T00:00", tz="UTC")
_minutes = st.integers(min_value=0, max_value=28 * 24 * 60)


def _at(draw, optional: bool = True):
    if optional and draw(st.booleans()) and draw(st.booleans()):
        return pd.NaT
    return _BASE + pd.Timedelta(minutes=draw(_minutes))


@st.composite
def small_company(draw):
    n = draw(st.integers(min_value=1, max_value=10))
    leads = pd.DataFrame({
        "source": "t", "external_id": [f"L{i}" for i in range(n)],
        "created_at": [_at(draw) for _ in range(n)], "mql_at": [_at(draw) for _ in range(n)],
        "sql_at": [_at(draw) for _ in range(n)],
        "owner_external_id": [draw(st.sampled_from(["o1", "o2", None])) for _ in range(n)],
        "channel": [draw(st.sampled_from(["web", "event", None])) for _ in range(n)],
        "segment": [draw(st.sampled_from(["SMB", None])) for _ in range(n)],
        "archived": [draw(st.booleans()) and draw(st.booleans()) for _ in range(n)],
    })  # fmt: skip
    k = draw(st.integers(min_value=0, max_value=12))
    deals = pd.DataFrame({
        "source": "t", "external_id": [f"D{i}" for i in range(k)],
        "lead_external_id": [draw(st.sampled_from([*leads["external_id"], None])) for _ in range(k)],
        "created_at": [_at(draw) for _ in range(k)], "closed_at": [_at(draw) for _ in range(k)],
        "is_won": [draw(st.booleans()) for _ in range(k)],
        "amount": [draw(st.sampled_from([None, 100.0, 250.5])) for _ in range(k)],
        "owner_external_id": [draw(st.sampled_from(["o1", "o2", None])) for _ in range(k)],
        "channel": [draw(st.sampled_from(["web", "event", None])) for _ in range(k)],
        "archived": [draw(st.booleans()) and draw(st.booleans()) for _ in range(k)],
    })  # fmt: skip
    deals["is_closed"] = deals["closed_at"].notna()
    recycled = draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True))
    handovers = pd.DataFrame({
        "source": "t",
        "lead_external_id": [f"L{i}" for i in recycled for _ in range(2)],
        "mql_at": [_at(draw, optional=False) for _ in range(2 * len(recycled))],
        "recycled": [j == 1 for _ in recycled for j in range(2)],
        "sql_at": [_at(draw) for _ in range(2 * len(recycled))],
    })  # fmt: skip
    return leads, deals, handovers


def _write(engine, company) -> None:
    leads, deals, handovers = company
    owners = pd.DataFrame(
        {"source": "t", "external_id": ["o1", "o2"], "name": ["Ann", "Bo"], "team": ["A", "B"]}
    )
    upserts.upsert_owners(engine, owners)
    upserts.upsert_leads(engine, leads)
    if len(deals):
        upserts.upsert_deals(engine, deals)
    if len(handovers):
        upserts.replace_handovers(engine, handovers)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(company=small_company(), offsets=st.lists(_minutes, min_size=1, max_size=2))
def test_the_history_from_sql_equals_the_pandas_engine_on_small_data(engine, company, offsets):
    with engine.begin() as conn:  # one example's rows only (the engine lives for every example)
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    _write(engine, company)
    text = SMALL
    first = parse_agreement(text)
    second = parse_agreement(text.replace("target: 500", "target: 400").replace("target: 200", "target: 250"))
    versions = [
        AgreementVersion(agreement="Small", version=1, effective_from=EPOCH, document=first, created_at=EPOCH),
        AgreementVersion(agreement="Small", version=2, effective_from=_BASE + pd.Timedelta(days=10),
                         document=second, created_at=EPOCH),
    ]  # fmt: skip
    owner = int(queries.read_owners(engine)["id"].dropna().iloc[0])
    history_start = _BASE - pd.Timedelta(days=7)
    for m in offsets:
        as_of = _BASE + pd.Timedelta(minutes=m + 1)
        for chosen in ({}, {"teams": ("A",)}, {"owners": (owner,)}, {"channels": ("web",)}):
            doc = versions[-1].document
            row = period_of(as_of, doc.period, doc.timezone)
            f = Filters(str(row["period"]), row["period_start"], row["period_end"], as_of, **chosen)
            check(engine, versions, f, history_start)
