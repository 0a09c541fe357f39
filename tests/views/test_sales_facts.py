"""The Sales view built with its clock figures from the stored SLA facts (data.fact_views.sales_clock) equals the
one built from frames alone, the oracle: tiles, per-rep and per-team follow-up, touches and disposition per
rep, and every figure the page quotes, for several periods, slices and as_of instants, across agreement
versions (one taking effect mid-period), on the demo and on Hypothesis data, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.agreement import AgreementVersion
from analytics.periods import period_grid
from connectors.demo import load_demo
from data.fact_views import sales_clock
from data.facts import FACTS, refresh_facts
from data.frames import read_window
from tests.data.test_facts import _BASE, SMALL_AGREEMENT, TODAY, _minutes, _versions, small_company
from views.filters import Filters
from views.sales import queue_window, sales_view

TILE_FIELDS = ("label", "metric", "value", "delta", "status", "status_label", "badge", "sentence", "help")


def _same_value(a, b) -> bool:
    if a is None or b is None or (not isinstance(a, str) and pd.isna(a)):
        return (a is None or pd.isna(a)) and (b is None or (not isinstance(b, str) and pd.isna(b)))
    if isinstance(a, float | int) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def assert_same_view(got, want, where: str) -> None:
    """Everything the page shows from the clock figures is the same in both views."""
    assert len(got.tiles) == len(want.tiles), where
    for mine, theirs in zip(got.tiles, want.tiles, strict=True):
        for name in TILE_FIELDS:
            assert getattr(mine, name) == getattr(theirs, name), f"{where}: tile {theirs.metric} {name}"
        assert (mine.row is None) == (theirs.row is None), where
        if theirs.row is not None:
            assert set(mine.row) == set(theirs.row), where
            for key, value in theirs.row.items():
                assert _same_value(mine.row[key], value), f"{where}: tile {theirs.metric} {key}"
    for name in ("median_text", "p90_text", "touch_sentence", "no_limit", "limit_hours", "followup_title"):
        assert getattr(got, name) == getattr(want, name), f"{where}: {name}"
    assert (got.overall is None) == (want.overall is None), where
    if want.overall is not None:
        for key, value in want.overall.items():
            assert _same_value(got.overall[key], value), f"{where}: overall {key}"
    for name in ("per_rep", "per_team"):
        mine, theirs = getattr(got, name), getattr(want, name)
        assert (mine is None) == (theirs is None), where
        if theirs is not None:
            pd.testing.assert_frame_equal(mine, theirs, check_dtype=False, obj=f"{where}: {name}")
    assert len(got.rep_rows) == len(want.rep_rows), where
    for mine, theirs in zip(got.rep_rows, want.rep_rows, strict=True):
        assert (mine.metric, mine.commitment, mine.message) == (
            theirs.metric,
            theirs.commitment,
            theirs.message,
        )
        assert (mine.table is None) == (theirs.table is None), where
        if theirs.table is not None:
            pd.testing.assert_frame_equal(
                mine.table.reset_index(drop=True), theirs.table.reset_index(drop=True), check_dtype=False,
                obj=f"{where}: rep rows {theirs.metric}",
            )  # fmt: skip
    pd.testing.assert_frame_equal(got.figures(), want.figures(), check_dtype=False, obj=f"{where}: figures")


def compare(engine, versions, frames, queue_frames, f: Filters) -> bool:
    """Build the view both ways and compare; True if the facts answered (not left to the frames)."""
    where = f"{f.period} as of {f.as_of} teams={f.teams} owners={f.owners} channels={f.channels}"
    clock = sales_clock(
        engine, versions, f.period_start, f.period_end, f.as_of, f.teams, f.owners, f.channels
    )
    want = sales_view(versions, frames, queue_frames, f)
    got = sales_view(versions, frames, queue_frames, f, clock)
    assert_same_view(got, want, where)
    return clock is not None and clock.evaluation is not None


def _month(label: str, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(f"{label}-01", tz=tz)
    return start.tz_convert("UTC"), (start + pd.DateOffset(months=1)).tz_convert("UTC")


def test_the_sales_view_from_facts_equals_the_one_from_frames_on_the_demo(engine):
    load_demo(engine, leads=1_500, today=TODAY)
    versions = _versions()  # v2 from 2026-02-01: 2 business hours, other hours
    # v3 from 2026-03-10, mid-March: March stays judged by v2, as the version in force at its start.
    v1 = versions[0]
    versions.append(AgreementVersion(agreement=v1.agreement, version=3, document=v1.document,
                                     effective_from=pd.Timestamp("2026-03-10", tz="UTC"), created_at=v1.created_at))  # fmt: skip
    refresh_facts(engine, versions)
    tz = v1.document.timezone
    leads = read_window(engine, *_month("2026-01", tz))["leads"]
    owners = tuple(int(o) for o in leads["owner_id"].dropna().astype(int).value_counts().index[:2])
    teams = tuple(sorted(leads["team"].dropna().unique()))
    channels = tuple(sorted(leads["channel"].dropna().unique()))
    slices = [((), (), ()), (teams[:1], (), ()), ((), owners, ()), (teams, (), channels[:2])]
    cases = [
        ("2026-01", "2026-02-03T16:45Z"),  # January closed, its last windows still open: provisional
        ("2026-01", "2026-03-16T00:00Z"),  # settled
        ("2026-02", "2026-02-03T16:45Z"),  # the current month, judged by v2
        ("2026-03", "2026-03-10T08:59Z"),  # mid-March: before and after leads' due instants
        ("2026-03", "2026-03-16T00:00Z"),
    ]
    answered = 0
    for label, as_of in cases:
        start, end = _month(label, tz)
        as_of = pd.Timestamp(as_of)
        frames = read_window(engine, start, end)
        queue_frames = read_window(engine, *queue_window(as_of))
        for teams_, owners_, channels_ in slices:
            f = Filters(label, start, end, as_of, teams_, owners_, channels_)
            answered += compare(engine, versions, frames, queue_frames, f)
    assert answered == len(cases) * len(slices)  # every one from facts, none left to the frames
    # An ISO week of the monthly agreement is judged by a weekly stand-in: the view leaves it to the frames.
    week = period_grid("week", tz, *_month("2026-02", tz)).iloc[1]
    as_of = pd.Timestamp("2026-03-16T00:00Z")
    frames = read_window(engine, week["period_start"], week["period_end"])
    f = Filters(week["period"], week["period_start"], week["period_end"], as_of)
    compare(engine, versions, frames, read_window(engine, *queue_window(as_of)), f)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(company=small_company(), offsets=st.lists(_minutes, min_size=1, max_size=3),
       teams=st.sampled_from([(), ("A",), ("A", "B")]), owners=st.sampled_from([(), (1,), (1, 2)]))  # fmt: skip
def test_the_sales_view_from_facts_equals_the_one_from_frames_on_small_data(
    engine, company, offsets, teams, owners
):
    versions = _versions(SMALL_AGREEMENT)[:1]
    with engine.begin() as conn:
        conn.execute(FACTS.delete())
    refresh_facts(engine, versions, company)
    doc = versions[0].document
    grid = period_grid(
        doc.period, doc.timezone, pd.Timestamp("2026-03-01", tz="UTC"), pd.Timestamp("2026-03-20", tz="UTC")
    )
    for m in offsets:
        as_of = _BASE + pd.Timedelta(minutes=m + 1)
        for period in grid[grid["period_start"] <= as_of].itertuples():
            f = Filters(period.period, period.period_start, period.period_end, as_of, teams, owners)
            compare(engine, versions, company, company, f)
