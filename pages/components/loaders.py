"""Cached access to the database and the analytics for the pages.

``st.cache_resource`` holds the engine (one per database URL). ``st.cache_data``
holds frames and results keyed by small parameters only (URL, ISO instants,
names, tuples of filter values) — never by a large frame, which Streamlit
would hash from a sample. :func:`clear` empties it after a sync, an import or
an agreement change so every page shows the new state.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from analytics.agreement import AgreementVersion, versions_from_rows
from analytics.commitments import evaluate
from analytics.slicing import slice_frames
from data import repository as repo
from data.engine import database_url, make_engine, upgrade

# Activities after a window still count for leads handed over inside it (touches within N business days).
ACTIVITY_TAIL = pd.Timedelta(days=28)


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
    from connectors.first_run import load_demo_if_empty

    return load_demo_if_empty(_engine_for(url))


def bootstrap() -> bool:
    """On first start: save the default agreement and, if the database is empty, load the demo company."""
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


@st.cache_data(ttl=300, show_spinner=False)
def owners(url: str) -> pd.DataFrame:
    """Every owner (for the owner picker and names)."""
    return repo.read_owners(_engine_for(url))


@st.cache_data(ttl=300, show_spinner=False)
def channels(url: str) -> list[str]:
    """Every channel seen on leads or deals."""
    bind = _engine_for(url)
    return sorted(
        set(repo.distinct_values(bind, "leads", "channel"))
        | set(repo.distinct_values(bind, "deals", "channel"))
    )


@st.cache_data(ttl=300, show_spinner=False)
def agreement_names(url: str) -> list[str]:
    """Names of the stored agreements, alphabetically."""
    return sorted(repo.read_agreement_versions(_engine_for(url))["agreement"].unique().tolist())


@st.cache_data(ttl=300, show_spinner=False)
def agreement_versions(url: str, name: str) -> list[AgreementVersion]:
    """Every saved version of agreement ``name``, oldest first."""
    return versions_from_rows(repo.read_agreement_versions(_engine_for(url), name))


@st.cache_data(ttl=600, max_entries=6, show_spinner="Loading data…")
def frames(url: str, start: str, end: str) -> dict[str, pd.DataFrame]:
    """Canonical frames for the window [start, end) (ISO UTC instants).

    Leads handed over in the window (plus the leads of deals created or closed
    in it), deals created or closed in it, activities from its start until
    :data:`ACTIVITY_TAIL` after its end, and every owner.
    """
    bind = _engine_for(url)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    return {
        "owners": repo.read_owners(bind),
        "leads": repo.read_leads(bind, lo, hi, with_deal_leads=True),
        "deals": repo.read_deals(bind, lo, hi),
        "activities": repo.read_activities(bind, lo, hi + ACTIVITY_TAIL),
    }


def sliced_frames(url: str, start: str, end: str, teams: tuple, owners: tuple, channels: tuple) -> dict:
    """:func:`frames` narrowed to the chosen teams, owner ids and channels (empty = all)."""
    return slice_frames(frames(url, start, end), teams=teams, owners=owners, channels=channels)


@st.cache_data(ttl=600, max_entries=32, show_spinner="Evaluating the agreement…")
def evaluation(
    url: str,
    agreement: str,
    start: str,
    end: str,
    as_of: str,
    teams: tuple = (),
    owners: tuple = (),
    channels: tuple = (),
    by: str | None = None,
) -> pd.DataFrame:
    """:func:`analytics.commitments.evaluate` of ``agreement`` over [start, end) as of ``as_of``, filtered."""
    data = sliced_frames(url, start, end, teams, owners, channels)
    return evaluate(agreement_versions(url, agreement), data, pd.Timestamp(start), pd.Timestamp(end),
                    pd.Timestamp(as_of), by=by)  # fmt: skip


def clear() -> None:
    """Forget every cached frame and result: call after a sync, an import or an agreement change."""
    st.cache_data.clear()
