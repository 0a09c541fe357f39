"""The Sales page's loader reads its clock figures from the SLA facts where the database keeps them current
(``cli.py db facts`` makes it so), and from the frames where it does not; both views are the same."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import settings
from analytics.commitments import document_in_force
from analytics.periods import period_of
from data import fact_upkeep, fact_views, upserts
from data.engine import make_engine
from pages.components import loaders
from tests.pages.test_loaders import AGREEMENT, newest
from tests.views.test_sales_facts import assert_same_view


@pytest.fixture
def url(demo_db_url, tmp_path) -> str:
    """A copy of the demo database of this test alone (so the caches, keyed on the URL, start empty), keeping
    its SLA facts as ``cli.py db facts`` makes it."""
    path = tmp_path / "accord.db"
    shutil.copy(demo_db_url.removeprefix("sqlite:///"), path)
    engine = make_engine(f"sqlite:///{path}")
    fact_upkeep.refresh_all(engine)
    engine.dispose()
    yield f"sqlite:///{path}"
    loaders.clear()


@pytest.fixture
def clocks(monkeypatch) -> list:
    """The SalesClock values the loader read from the facts, in order (ACCORD_SALES_FROM_FACTS on)."""
    monkeypatch.setenv("ACCORD_SALES_FROM_FACTS", "true")
    seen = []
    read = fact_views.sales_clock
    monkeypatch.setattr(fact_views, "sales_clock", lambda *a: seen.append(read(*a)) or seen[-1])
    return seen


def _view_key(url: str, **slice_) -> dict:
    as_of = newest(url)
    doc = document_in_force(loaders.agreement_versions(url, AGREEMENT), as_of)
    period = period_of(as_of - pd.DateOffset(months=1), doc.period, doc.timezone)  # the last closed month
    return {"url": url, "agreement": AGREEMENT, "period": period["period"],
            "start": period["period_start"].isoformat(), "end": period["period_end"].isoformat(),
            "as_of": as_of.isoformat(), "teams": (), "owners": (), "channels": (), **slice_}  # fmt: skip


@pytest.mark.parametrize("slice_", [{}, {"teams": ("EMEA",), "channels": ("Events", "Paid search")}])
def test_the_sales_loader_reads_the_clock_from_the_facts_and_shows_what_the_frames_show(
    url, clocks, monkeypatch, slice_
):
    assert fact_upkeep.current(make_engine(url))  # the fixture built them
    key = _view_key(url, **slice_)
    from_facts = loaders.sales_view(**key)
    assert len(clocks) == 1 and clocks[0] is not None and clocks[0].evaluation is not None
    assert from_facts.per_rep is not None and from_facts.tiles[0].row is not None
    loaders.clear()
    monkeypatch.setattr(fact_upkeep, "current", lambda bind: False)
    from_frames = loaders.sales_view(**key)
    assert len(clocks) == 1  # not read again: the frames answered
    assert_same_view(from_facts, from_frames, str(slice_))


def test_a_write_waiting_for_its_refresh_sends_the_sales_loader_to_the_frames(url, clocks):
    engine = loaders._engine_for(url)
    leads = pd.read_sql("select source, external_id from leads limit 1", engine)
    upserts.upsert_leads(engine, leads.assign(channel="Events"))  # noted, its run not finished yet
    assert not fact_upkeep.current(engine)
    loaders.sales_view(**_view_key(url))
    assert clocks == []
    fact_upkeep.after_run(engine)  # the run's end refreshes them
    assert fact_upkeep.current(engine)


def test_the_sales_loader_reads_the_facts_only_when_asked(url, clocks, monkeypatch):
    monkeypatch.setenv("ACCORD_SALES_FROM_FACTS", "false")  # the default
    loaders.sales_view(**_view_key(url))
    assert clocks == []
    monkeypatch.setenv("ACCORD_SALES_FROM_FACTS", "maybe")
    with pytest.raises(settings.SettingError, match="ACCORD_SALES_FROM_FACTS: expected true or false"):
        loaders.sales_from_facts()
