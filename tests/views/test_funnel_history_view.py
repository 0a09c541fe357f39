"""The Funnel page's view built from the database's aggregates equals the one built from frames.

The loader gives ``views.funnel.funnel_view`` the history of ``data.funnel_aggregates.funnel_history``; the
pandas engine (the frames of ``data_window``, as the page read them before) is the oracle: every sentence,
stage tile, table, revenue row, chart and ``figures()`` row is the same, on SQLite and PostgreSQL, at
several as_of and slices.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from connectors.demo import load_demo
from data import queries
from data.frames import read_window
from data.funnel_aggregates import funnel_history
from tests.data.test_funnel_aggregates import CHANGED, _filters, _versions
from views.funnel import FunnelView, Revenue, data_window, funnel_view

TODAY = dt.date(2026, 3, 16)


def _same_figure(got: go.Figure | None, want: go.Figure | None, where: str) -> None:
    assert (got is None) == (want is None), where
    if want is None:
        return
    assert got.layout.to_plotly_json() == want.layout.to_plotly_json(), where
    assert len(got.data) == len(want.data), where
    for a, b in zip(got.data, want.data, strict=True):
        a, b = a.to_plotly_json(), b.to_plotly_json()
        assert a.keys() == b.keys(), where
        for key in a:
            x, y = a[key], b[key]
            if isinstance(x, np.ndarray | list | tuple) and np.asarray(x).dtype.kind == "f":
                np.testing.assert_allclose(
                    np.asarray(x, float), np.asarray(y, float), rtol=1e-9, err_msg=where
                )
            else:
                assert str(x) == str(y), f"{where}: {key}"


def _same_value(got, want, where: str) -> None:
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9, obj=where)
    elif isinstance(want, go.Figure) or (want is None and isinstance(got, go.Figure)):
        _same_figure(got, want, where)
    elif isinstance(want, tuple) and want and isinstance(want[0], Revenue):
        assert len(got) == len(want), where
        for a, b in zip(got, want, strict=True):
            for field in dataclasses.fields(Revenue):
                _same_value(
                    getattr(a, field.name), getattr(b, field.name), f"{where}.{b.metric}.{field.name}"
                )
    else:
        assert got == want, where


def assert_same_view(got: FunnelView, want: FunnelView) -> None:
    for field in dataclasses.fields(FunnelView):
        _same_value(getattr(got, field.name), getattr(want, field.name), field.name)
    pd.testing.assert_frame_equal(got.figures(), want.figures(), check_dtype=False, rtol=1e-9, obj="figures")


def test_the_funnel_view_from_sql_equals_the_one_from_frames(engine):
    load_demo(engine, leads=2_000, today=TODAY)
    # Version 2 changes the pipeline target and adds slice targets (a commitment that only a later version
    # has makes the Funnel page's trend chart refuse two commitments' rows, from frames as from SQL).
    versions = _versions(CHANGED.split("  - id: won-search")[0].rstrip())
    history_start = pd.Timestamp("2025-10-01", tz="Europe/Berlin").tz_convert("UTC")
    owner = int(queries.read_owners(engine)["id"].dropna().iloc[1])
    shown = 0
    for period_at, as_of, chosen in (
        ("2026-01-10", "2026-01-20T10:00Z", {}),
        ("2026-02-10", "2026-02-03T16:45Z", {"teams": ("Americas",)}),
        ("2026-02-10", "2026-03-16T00:00Z", {"owners": (owner,)}),
        ("2026-03-10", "2026-03-16T00:00Z", {"channels": ("Events",)}),
        ("2025-10-10", "2025-09-20T00:00Z", {}),  # as of before the history: no period has started
    ):
        f = _filters(versions, period_at, as_of, **chosen)
        lo, hi = data_window(f, history_start)
        want = funnel_view(versions, read_window(engine, lo, hi), f, history_start)
        got = funnel_view(versions, funnel_history(engine, versions, f, history_start), f, history_start)
        assert_same_view(got, want)
        shown += len(want.stages)
    assert shown >= 12  # the cohort tiles were compared, not only empty views
