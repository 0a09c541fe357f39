"""The Marketing view built from the database's history equals the one built from the history's frames,
and its period's own rows (from the period's frames) equal those of an evaluation over the whole history.

``data.aggregates.history_figures`` (what the page's loader uses) against the pandas engine on frames of
the window the history needs, on the demo company: every table, chart, sentence and figure of the view,
for several as-of instants and slices, with the stored agreement and with versions that judge the
conversion rate (targets, filters and a version change mid-history).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics.agreement import versions_from_rows
from analytics.commitments import document_in_force, evaluate, row_for, with_tracked
from analytics.history import HistoryFigures, history_window
from analytics.periods import period_of
from data import aggregates, journal, queries
from data.engine import make_engine
from data.frames import read_window
from tests.data.test_aggregates import CONVERSION, _versions
from views.filters import filters_for
from views.marketing import marketing_view
from views.sales import TRACKED_METRICS


def assert_same(got, expected, where: str = "view") -> None:
    """``got`` equals ``expected`` field by field: frames and charts by value, floats to 1e-12."""
    if dataclasses.is_dataclass(expected):
        assert type(got) is type(expected), where
        for field in dataclasses.fields(expected):
            assert_same(getattr(got, field.name), getattr(expected, field.name), f"{where}.{field.name}")
    elif isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, obj=where)
    elif isinstance(expected, go.Figure):
        assert got.to_json() == expected.to_json(), where
    elif isinstance(expected, Mapping):
        assert list(got) == list(expected), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(expected, float) and math.isnan(expected):
        assert isinstance(got, float) and math.isnan(got), where
    else:
        assert got == expected or (pd.isna(got) and pd.isna(expected)), f"{where}: {got!r} != {expected!r}"


@pytest.mark.parametrize("stored", [True, False], ids=["stored agreement", "conversion judged"])
def test_the_view_from_the_sql_history_equals_the_view_from_history_frames(demo_db_url, stored):
    engine = make_engine(demo_db_url)
    # The conversion commitment under one id throughout: the trend chart draws one commitment.
    untargeted = CONVERSION % ("null", "{}")
    versions = (
        versions_from_rows(journal.read_agreement_versions(engine)) if stored else _versions(first=untargeted)
    )
    newest = queries.read_leads(engine, columns=["mql_at"])["mql_at"].max()
    owner = int(queries.read_owners(engine).dropna(subset=["team"])["id"].iloc[0])
    for as_of in (newest, newest - pd.Timedelta(days=40), newest - pd.Timedelta(days=75, hours=3)):
        doc = document_in_force(versions, as_of)
        history_start = period_of(as_of - pd.DateOffset(months=14), doc.period, doc.timezone)["period_start"]
        previous = period_of(as_of - pd.DateOffset(months=1), doc.period, doc.timezone)["period"]
        for period, sliced in (
            (None, {}), (previous, {}), (None, {"teams": ("EMEA",)}), (None, {"owners": (owner,)}),
            (None, {"channels": ("Paid Search",)}),
        ):  # fmt: skip
            f = filters_for(versions, as_of, period, **sliced)
            frames = read_window(engine, f.period_start, f.period_end)
            window = history_window(doc, history_start, f.period_start, f.period_end, f.as_of)
            history_frames = read_window(engine, *window)
            from_frames = marketing_view(versions, frames, history_frames, f, history_start)
            # The period's own rows (headlines, acceptance) come from its frames alone: as from the history's.
            whole = evaluate(with_tracked(versions, TRACKED_METRICS), f.slice(history_frames), history_start,
                             f.period_end, f.as_of)  # fmt: skip
            for metric, row in [(h.metric, h.row) for h in from_frames.headlines] + [
                ("acceptance_rate", from_frames.acceptance_row)
            ]:
                expected = row_for(whole, doc, metric, f.period)
                assert row is not None and expected is not None, metric
                assert_same(row, expected.to_dict(), f"{metric} as of {as_of}, {f.period}, slice {sliced}")
            history = aggregates.history_figures(engine, versions, f, history_start)
            assert isinstance(history, HistoryFigures)
            from_sql = marketing_view(versions, frames, history, f, history_start)
            assert_same(from_sql, from_frames, f"view as of {as_of}, slice {sliced}")
            assert_same(from_sql.figures(), from_frames.figures(), f"figures as of {as_of}, slice {sliced}")
            assert len(from_sql.trend) >= 12 and from_sql.trend["n"].sum() > 0


def test_a_conversion_commitment_renamed_by_a_later_version_draws_one_trend(demo_db_url):
    """v1 measures the conversion as "mql-sql", v2 and v3 as "conversion": the trend runs across both ids,
    one bar per period, from the SQL history as from the frames."""
    engine = make_engine(demo_db_url)
    versions = _versions(first=(CONVERSION % (0.25, "{}")).replace("id: conversion", "id: mql-sql"))
    as_of = queries.read_leads(engine, columns=["mql_at"])["mql_at"].max()
    doc = document_in_force(versions, as_of)
    history_start = period_of(as_of - pd.DateOffset(months=14), doc.period, doc.timezone)["period_start"]
    f = filters_for(versions, as_of)
    frames = read_window(engine, f.period_start, f.period_end)
    history = aggregates.history_figures(engine, versions, f, history_start)
    view = marketing_view(versions, frames, history, f, history_start)
    assert {"mql-sql", "conversion"} <= set(view.trend["commitment"])
    assert not view.trend["period"].duplicated().any() and view.trend_chart is not None
    assert list(view.trend_chart.data[0].x) == list(view.trend["period"])
    window = history_window(doc, history_start, f.period_start, f.period_end, f.as_of)
    assert_same(view, marketing_view(versions, frames, read_window(engine, *window), f, history_start))
