"""The pages' cached loaders: one shared read serves every window, cut exactly as a read of it would be."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import settings
from analytics.commitments import document_in_force
from analytics.periods import period_of
from data import frames as windows
from data import queries, upserts
from data.engine import make_engine
from pages.components import loaders, navigation

AGREEMENT = "Sales and Marketing SLA"


@pytest.fixture
def url(demo_db_url, tmp_path) -> str:
    """A copy of the demo database of this test alone (so the caches, keyed on the URL, start empty)."""
    path = tmp_path / "accord.db"
    shutil.copy(demo_db_url.removeprefix("sqlite:///"), path)
    yield f"sqlite:///{path}"
    loaders.clear()


@pytest.fixture
def reads(monkeypatch) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The windows loaders read from the database, in order."""
    seen = []

    def counted(engine, start, end):
        seen.append((start, end))
        return windows.read_window(engine, start, end)

    monkeypatch.setattr(loaders, "read_window", counted)
    return seen


def newest(url: str) -> pd.Timestamp:
    leads = queries.read_leads(make_engine(url), columns=["mql_at"])
    return leads["mql_at"].max()


def windows_of_the_pages(url: str) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """What the dashboard pages ask for around the demo's last day: 15 periods, a period, a queue, a week's trend."""
    as_of = newest(url)
    doc = document_in_force(loaders.agreement_versions(url, AGREEMENT), as_of)
    period = period_of(as_of, doc.period, doc.timezone)
    history = period_of(as_of - pd.DateOffset(months=14), doc.period, doc.timezone)["period_start"]
    return {
        "history": (history, period["period_end"]),  # Marketing, Sales and Funnel ask for it first
        "period": (period["period_start"], period["period_end"]),
        "queue": (as_of.floor("D") - pd.Timedelta(days=30), as_of.floor("D") + pd.Timedelta(days=1)),
        "trend": (
            period["period_start"] - pd.Timedelta(weeks=8),
            period["period_end"] + pd.Timedelta(days=6),
        ),
        "before the period": (history, period["period_start"]),  # the Agreement page's baseline
    }


def ids(frame: pd.DataFrame) -> list[int]:
    return sorted(frame["id"].astype(int).tolist())


def test_every_page_window_is_cut_from_one_read_exactly_as_reading_it(url, reads):
    engine = make_engine(url)
    everything = len(queries.read_leads(engine, columns=["id"]))
    for name, (start, end) in windows_of_the_pages(url).items():
        got = loaders.frames(url, start.isoformat(), end.isoformat())
        expected = windows.read_window(engine, start, end)
        for table in ("leads", "deals", "activities", "owners"):
            assert ids(got[table]) == ids(expected[table]), (name, table)
            assert list(got[table].columns) == list(expected[table].columns)
        assert 0 < len(got["leads"]) < everything, name
    history = windows_of_the_pages(url)["history"]
    assert reads == [(history[0], history[1] + loaders.SHARED_TAIL)]  # one read: the others were cut from it


def test_a_short_window_is_read_as_asked_until_a_longer_one_covers_it(url, reads):
    loaders.frames(url, "2026-09-01T00:00:00+00:00", "2026-11-30T23:00:00+00:00")  # the Overview's
    loaders.frames(url, "2026-10-05T00:00:00+00:00", "2026-10-20T00:00:00+00:00")
    assert reads == [(pd.Timestamp("2026-09-01", tz="UTC"), pd.Timestamp("2026-11-30T23:00Z"))]
    loaders.frames(url, "2025-09-30T22:00:00+00:00", "2026-11-30T23:00:00+00:00")  # 15 periods
    loaders.frames(url, "2025-09-30T22:00:00+00:00", "2026-10-31T23:00:00+00:00")  # and before this one
    loaders.frames(url, "2026-09-01T00:00:00+00:00", "2026-12-07T23:00:00+00:00")
    assert len(reads) == 2 and reads[1][1] == pd.Timestamp("2026-11-30T23:00Z") + loaders.SHARED_TAIL


def test_the_marketing_page_reads_its_period_and_queries_its_history_once_for_every_slice(
    url, reads, monkeypatch
):
    from data import aggregates
    from views.filters import Filters
    from views.marketing import history_from_frames

    asked = []
    counts = aggregates.history_counts
    monkeypatch.setattr(aggregates, "history_counts", lambda *args: asked.append(args) or counts(*args))
    asked_for = windows_of_the_pages(url)
    (start, end), history_start = asked_for["period"], asked_for["history"][0]
    as_of = newest(url)
    key = {"url": url, "agreement": AGREEMENT, "period": "", "start": start.isoformat(), "end": end.isoformat(),
           "as_of": as_of.isoformat(), "history_start": history_start.isoformat()}  # fmt: skip
    loaders.marketing_view(**key)
    team = loaders.marketing_view(**key, teams=("EMEA",))
    assert len(asked) == 1  # the team's history was sliced from the same counts
    assert reads == [(start, end)]  # the period's frames only: no 15 periods of rows
    f = Filters("", start, end, as_of, teams=("EMEA",))
    versions = loaders.agreement_versions(url, AGREEMENT)
    expected = history_from_frames(
        versions, windows.read_window(make_engine(url), history_start, end), f, history_start
    )
    pd.testing.assert_frame_equal(team.trend, expected.trend)


def test_the_loaders_leave_the_shared_frames_as_they_were(url):
    windows = windows_of_the_pages(url)
    start, end = (t.isoformat() for t in windows["period"])
    h_start, h_end = (t.isoformat() for t in windows["history"])
    as_of = newest(url).isoformat()
    before = {name: {t: f.copy(deep=True) for t, f in loaders.frames(url, *w).items()}
              for name, w in (("period", (start, end)), ("history", (h_start, h_end)))}  # fmt: skip
    key = {"url": url, "agreement": AGREEMENT, "as_of": as_of}
    loaders.evaluation(**key, start=start, end=end, by="owner")
    view = {**key, "period": "current", "start": start, "end": end, "teams": (), "owners": (), "channels": ()}
    loaders.sales_view(**view)
    loaders.marketing_view(**view, history_start=h_start)
    loaders.funnel_view(**{**view, "channels": ("Events",)}, history_start=h_start)
    for name, w in (("period", (start, end)), ("history", (h_start, h_end))):
        for table, frame in loaders.frames(url, *w).items():
            pd.testing.assert_frame_equal(frame, before[name][table], obj=f"{name} {table}")


def test_the_frames_are_a_mapping_no_page_can_change(url):
    start, end = (t.isoformat() for t in windows_of_the_pages(url)["period"])
    frames = loaders._window_frames(url, start, end)
    with pytest.raises(TypeError):
        frames["leads"] = frames["deals"]


def test_clear_forgets_the_frames_read(url):
    start, end = "2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00"
    before = len(loaders.frames(url, start, end)["leads"])
    late = pd.DataFrame({"source": "late", "external_id": ["x", "y"], "created_at": pd.Timestamp("2026-10-10", tz="UTC"),
                         "mql_at": pd.Timestamp("2026-10-10T01:00Z")})  # fmt: skip
    upserts.upsert_leads(make_engine(url), late)
    assert len(loaders.frames(url, start, end)["leads"]) == before  # cached
    loaders.clear()
    assert len(loaders.frames(url, start, end)["leads"]) == before + 2


def test_a_write_outside_the_app_shows_once_the_generation_is_read_again(url):
    start, end = "2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00"
    before = len(loaders.frames(url, start, end)["leads"])
    sources = set(loaders.source_counts(url)["source"])
    late = pd.DataFrame({"source": "late", "external_id": ["x", "y"], "created_at": pd.Timestamp("2026-10-10", tz="UTC"),
                         "mql_at": pd.Timestamp("2026-10-10T01:00Z")})  # fmt: skip
    upserts.upsert_leads(make_engine(url), late)  # e.g. cli.py import: this process is not told
    assert len(loaders.frames(url, start, end)["leads"]) == before  # the generation is cached a few seconds
    loaders.generation.clear()  # ... which have passed
    assert len(loaders.frames(url, start, end)["leads"]) == before + 2
    assert set(loaders.source_counts(url)["source"]) == sources | {"late"}
    assert loaders.table_counts(url)["leads"] == queries.table_counts(make_engine(url))["leads"]


# --- the default page at its own path as well as at the root -------------------------------------------------


PROBE = """
import streamlit as st
from pages.components import navigation

pages = [page for section in navigation.pages_for("admin").values() for page in section]
st.json([{"url_path": p.url_path, "visibility": p.visibility, "title": p.title} for p in pages])
"""


def test_the_default_page_also_answers_at_its_own_path(tmp_path):
    (tmp_path / "pages").symlink_to(settings.ROOT / "pages")  # st.Page finds the files next to the script
    (tmp_path / "probe.py").write_text(PROBE)
    at = AppTest.from_file(str(tmp_path / "probe.py")).run()
    assert not at.exception, at.exception
    pages = json.loads(at.json[0].value)
    default = [spec for spec in navigation.PAGES if spec.default][0]
    served = [page["url_path"] for page in pages]
    assert "" in served and default.url_path in served and len(served) == len(set(served))
    twin = pages[served.index(default.url_path)]
    assert twin["visibility"] == "hidden" and twin["title"] == default.title  # not listed twice in the menu
    listed = [page["url_path"] for page in pages if page["visibility"] == "visible"]
    assert listed == ["" if spec.default else spec.url_path for spec in navigation.specs_for("admin")]


def test_overview_runs_at_its_own_path(monkeypatch, demo_db_url, tmp_path):
    path = tmp_path / "accord.db"
    shutil.copy(demo_db_url.removeprefix("sqlite:///"), path)
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{path}")
    at = AppTest.from_file(str(settings.ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    at.switch_page("pages/overview.py").run()  # the twin: AppTest prefers the page at /overview
    assert not at.exception, at.exception
    assert at.title[0].value == "Overview"
    assert at.selectbox(key="week").value
