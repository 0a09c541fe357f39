"""Cached access to the database for the pages.

``st.cache_resource`` holds the engine (one per database URL); ``st.cache_data``
holds frames and summaries keyed by small parameters, and :func:`clear` empties
it after a sync or an import so every page shows the new data.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from data import repository as repo
from data.engine import database_url, make_engine, upgrade


@st.cache_resource(show_spinner=False)
def _engine_for(url: str):
    engine = make_engine(url)
    upgrade(engine)
    return engine


def engine():
    """The engine of the configured database, migrated to the newest schema."""
    return _engine_for(database_url())


@st.cache_resource(show_spinner="Preparing the demo company (first start only)…")
def _bootstrapped(url: str) -> bool:
    """Load the demo company once, if the database has no data at all; True if it did."""
    from connectors.first_run import load_demo_if_empty

    return load_demo_if_empty(_engine_for(url))


def bootstrap() -> bool:
    """On first start with an empty database, load the demo company; True if it was loaded now."""
    return _bootstrapped(database_url())


@st.cache_data(ttl=60, show_spinner=False)
def table_counts(url: str) -> dict[str, int]:
    return repo.table_counts(_engine_for(url))


@st.cache_data(ttl=60, show_spinner=False)
def source_counts(url: str) -> pd.DataFrame:
    return repo.source_counts(_engine_for(url))


@st.cache_data(ttl=30, show_spinner=False)
def sync_runs(url: str, limit: int = 100) -> pd.DataFrame:
    return repo.read_sync_runs(_engine_for(url), limit)


def freshness(url: str) -> tuple[str | None, dt.datetime | None]:
    """(connector, finished_at) of the newest successful load, or (None, None)."""
    runs = sync_runs(url)
    done = runs[runs["status"] == "ok"] if not runs.empty else runs
    if done.empty:
        return None, None
    newest = done.sort_values("finished_at").iloc[-1]
    return newest["connector"], newest["finished_at"].to_pydatetime()


def clear() -> None:
    """Forget every cached frame: call after a sync, an import or an agreement change."""
    st.cache_data.clear()
