"""The Overview's loader takes every figure from the database where it keeps its SLA facts current
(``cli.py db facts``), from the rows where it does not or cannot answer; the page is the same either way."""

from __future__ import annotations

import pandas as pd
import pytest

import settings
from analytics.commitments import document_in_force
from analytics.periods import last_closed_week, period_of
from data import fact_upkeep
from data.engine import make_engine
from data.stored_evaluation import NotStored, StoredEvaluation
from pages.components import loaders
from tests.pages.test_loaders import AGREEMENT, newest
from tests.pages.test_sales_facts_loader import url  # noqa: F401  (a demo copy keeping its facts)


@pytest.fixture
def asked(monkeypatch) -> list:
    """The stored evaluations the loaders asked (ACCORD_FIGURES_FROM_DATABASE on, the default)."""
    monkeypatch.delenv("ACCORD_FIGURES_FROM_DATABASE", raising=False)
    seen = []
    evaluate = StoredEvaluation.evaluate

    def counted(self, *args):
        seen.append(args)
        return evaluate(self, *args)

    monkeypatch.setattr(StoredEvaluation, "evaluate", counted)
    return seen


def _key(url: str, **slice_) -> dict:  # noqa: F811
    as_of = newest(url)
    doc = document_in_force(loaders.agreement_versions(url, AGREEMENT), as_of)
    period = period_of(as_of, doc.period, doc.timezone)
    return {"url": url, "agreement": AGREEMENT, "period": period["period"],
            "start": period["period_start"].isoformat(), "end": period["period_end"].isoformat(),
            "as_of": as_of.isoformat(), "teams": (), "owners": (), "channels": (), **slice_,
            "week": last_closed_week(as_of, doc.timezone)}  # fmt: skip


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.figures_csv, b.figures_csv, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert [c.caption for c in a.cards] == [c.caption for c in b.cards]


@pytest.mark.parametrize("slice_", [{}, {"teams": ("EMEA",)}])
def test_the_overview_loader_asks_the_database_and_shows_what_the_rows_show(url, asked, monkeypatch, slice_):  # noqa: F811
    assert fact_upkeep.current(make_engine(url))  # the fixture built them
    key = _key(url, **slice_)
    from_database = loaders.overview_view(**key)
    assert len(asked) >= 3  # the trend, the week before, the period
    loaders.clear()
    monkeypatch.setenv("ACCORD_FIGURES_FROM_DATABASE", "false")
    count = len(asked)
    from_rows = loaders.overview_view(**key)
    assert len(asked) == count  # not asked again: the rows answered
    _same(from_database, from_rows)


def test_where_the_database_cannot_answer_the_rows_do(url, asked, monkeypatch):  # noqa: F811
    def cannot(self, *args):
        asked.append(args)
        raise NotStored("no SLA facts of this version")

    monkeypatch.setattr(StoredEvaluation, "evaluate", cannot)
    view = loaders.overview_view(**_key(url))
    assert asked and len(view.cards) > 3


def test_without_facts_kept_the_overview_reads_the_rows(url, asked, monkeypatch):  # noqa: F811
    monkeypatch.setattr(fact_upkeep, "current", lambda bind: False)
    assert loaders.stored_source(url) is None
    loaders.overview_view(**_key(url))
    assert asked == []
    monkeypatch.setenv("ACCORD_FIGURES_FROM_DATABASE", "maybe")
    with pytest.raises(settings.SettingError, match="ACCORD_FIGURES_FROM_DATABASE: expected true or false"):
        loaders.stored_source(url)


def test_the_meeting_pack_and_cli_figures_read_the_overview_from_the_database_too(url, asked, monkeypatch):  # noqa: F811
    from reports.figures import page_figures
    from reports.weeks import load_view, versions_of
    from views.filters import filters_for

    engine = make_engine(url)
    key = _key(url)
    as_of = pd.Timestamp(key["as_of"])
    from_database = load_view(engine, AGREEMENT, key["week"], as_of)
    f = filters_for(versions_of(engine, AGREEMENT), as_of)
    shown = page_figures(engine, AGREEMENT, "overview", f, key["week"])  # cli.py figures --page overview
    assert len(asked) >= 3
    monkeypatch.setenv("ACCORD_FIGURES_FROM_DATABASE", "false")
    count = len(asked)
    from_rows = load_view(engine, AGREEMENT, key["week"], as_of)
    assert len(asked) == count
    _same(from_database, from_rows)
    pd.testing.assert_frame_equal(shown, page_figures(engine, AGREEMENT, "overview", f, key["week"]))
