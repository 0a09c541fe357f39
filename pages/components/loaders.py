"""Cached access to the database and the analytics for the pages.

``st.cache_resource`` holds the engines (the writer per database URL, and the
read replica's of ``ACCORD_READ_DATABASE_URL`` that every loader reads through
when it is set) and the canonical frames: a million leads are hundreds of MB, which ``st.cache_data`` would
pickle and copy on every hit. Those frames are shared by every session and
must be treated as read-only (analytics never modify their input; pandas'
Copy-on-Write keeps a derived frame from writing back). A page's window is cut
from a wider one already read when there is one (the 15 periods of trends cover
every window of the month), so the second page opened reads nothing.
``st.cache_data`` holds the smaller results keyed by small parameters only
(URL, ISO instants, names, tuples of filter values) — never by a large frame,
which Streamlit would hash from a sample. :func:`clear` empties both after a
sync, an import or an agreement change so every page shows the new state.

Everything read from the database is cached per data generation (:func:`generation`, a few indexed reads
cached for :data:`GENERATION_TTL` seconds): a write from anywhere (the app, cli.py, cron, another server)
starts new entries within seconds, and an unchanged database is never read twice. While the generation
stays, every tab and session shares one "as of" instant for ACCORD_AS_OF_REUSE_MINUTES
(:func:`shared_as_of`), so the views computed for it are reused instead of rebuilt each minute.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from types import MappingProxyType

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import clock
import settings
from analytics.agreement import AgreementVersion, versions_from_rows
from analytics.baseline import FunnelAssumptions, trailing_assumptions
from analytics.charts import tidy
from analytics.commitments import evaluate
from analytics.slicing import slice_frames
from data import fact_upkeep, fact_views, journal, queries, syncs
from data import generation as data_generation
from data.engine import make_engine, read_engine, upgrade
from data.frames import cut_window, read_window
from views.sales import queue_window


@st.cache_resource(show_spinner=False)
def _engine_for(url: str):
    engine = make_engine(url)
    upgrade(engine)
    return engine


def engine():
    """The engine of the configured database, migrated to the newest schema."""
    return _engine_for(settings.database_url())


@st.cache_resource(show_spinner=False)
def _reader_for(url: str, read_url: str):
    return read_engine(read_url, _engine_for(url))


def _reads(url: str):
    """The engine the pages read ``url``'s data through: the replica of ACCORD_READ_DATABASE_URL, else the writer.

    Only reads go through it; the demo load, snapshots and every other write use :func:`engine`.
    """
    return _reader_for(url, settings.get("ACCORD_READ_DATABASE_URL") or "")


def reader():
    """The engine of the configured database's reads (:func:`_reads`)."""
    return _reads(settings.database_url())


@st.cache_resource(show_spinner="Preparing the demo company (first start only)…")
def _bootstrapped(url: str) -> bool:
    from bootstrap import load_demo_if_empty

    return load_demo_if_empty(_engine_for(url))


def bootstrap() -> bool:
    """On first start: save the default agreement and, if the database is empty, load the demo company."""
    return _bootstrapped(settings.database_url())


GENERATION_TTL = 3  # seconds: read on every rerun of every tab, so a write elsewhere shows within this


@st.cache_data(ttl=GENERATION_TTL, show_spinner=False)
def generation(url: str) -> tuple:
    """The data generation of ``url``'s database as the pages read it (data.generation), cached briefly."""
    return data_generation.generation(_reads(url))


def _per_generation(cached):
    """``cached`` (a cached loader whose first argument is the data generation) called as ``cached(url, ...)``:
    the current generation of ``url`` goes in first, so its entries are never those of older data."""

    @functools.wraps(cached)
    def call(url: str, *args, **kwargs):
        return cached(generation(url), url, *args, **kwargs)

    call.clear = cached.clear
    return call


LONG_TTL = 3600  # seconds: entries are keyed on the generation; this only bounds how long unused ones stay


@_per_generation
@st.cache_data(ttl=LONG_TTL, max_entries=8, show_spinner=False)
def table_counts(gen: tuple, url: str) -> dict[str, int]:
    """Rows per canonical table (a count scans each table: once per generation, not once a minute)."""
    return queries.table_counts(_reads(url))


@_per_generation
@st.cache_data(ttl=LONG_TTL, max_entries=8, show_spinner=False)
def source_counts(gen: tuple, url: str) -> pd.DataFrame:
    """Rows per (table, source), for the Data page: once per generation."""
    return queries.source_counts(_reads(url))


@_per_generation
@st.cache_data(ttl=LONG_TTL, max_entries=8, show_spinner=False)
def has_rows(gen: tuple, url: str) -> dict[str, bool]:
    """Whether each canonical table holds a row (data.queries.has_rows: no row is counted), per generation."""
    return queries.has_rows(_reads(url))


@_per_generation
@st.cache_data(ttl=LONG_TTL, max_entries=8, show_spinner=False)
def source_names(gen: tuple, url: str) -> list[str]:
    """The sources the database holds rows of (data.queries.source_names: no row is counted), per generation."""
    return queries.source_names(_reads(url))


@_per_generation
@st.cache_data(ttl=30, max_entries=16, show_spinner=False)
def sync_runs(gen: tuple, url: str, limit: int = 100) -> pd.DataFrame:
    """The newest ``limit`` runs (data.syncs.read_sync_runs): a data run's start, heartbeat and end are in the
    generation; the alert runs that are not show on the Data page within 30 s, as before."""
    return syncs.read_sync_runs(_reads(url), limit)


# --- one "as of" per data generation -----------------------------------------------------------------------


def as_of_reuse() -> pd.Timedelta:
    """ACCORD_AS_OF_REUSE_MINUTES as a duration; a value that is not a whole number >= 0 stops with its name."""
    raw = (settings.get("ACCORD_AS_OF_REUSE_MINUTES") or "").strip()
    if not raw.isdigit():
        raise settings.SettingError(
            f"ACCORD_AS_OF_REUSE_MINUTES: expected a whole number of minutes (0 or more), not {raw[:40]!r}"
        )
    return pd.Timedelta(minutes=int(raw))


@st.cache_resource(show_spinner=False)
def _as_of_in_use(url: str) -> dict:
    """{"held": (generation, as_of)}: the instant every session of this server shows ``url``'s data as of."""
    return {}


def shared_as_of(url: str) -> pd.Timestamp:
    """The "as of" of a page that no ``?as_of=`` pins: the one in use while the data generation is the same
    and it is less than ACCORD_AS_OF_REUSE_MINUTES old, else now to the minute (which becomes the one in use).

    Rounded up to the minute, so never before what was just saved; a new generation starts a new instant.
    """
    now = pd.Timestamp(clock.now())
    fresh = now.ceil("min")
    reuse = as_of_reuse()
    if reuse <= pd.Timedelta(0):
        return fresh
    gen, held = generation(url), _as_of_in_use(url)
    kept_gen, kept = held.get("held", (None, None))
    if kept_gen == gen and kept is not None and kept <= fresh and now - kept < reuse:
        return kept
    held["held"] = (gen, fresh)  # one assignment: another session sees the old pair or the new one
    return fresh


def recompute_as_of(url: str) -> None:
    """Start a new "as of" (now, to the minute) for every session, reading the data generation afresh."""
    generation.clear()
    _as_of_in_use(url)["held"] = (generation(url), pd.Timestamp(clock.now()).ceil("min"))


def freshness(url: str) -> tuple[str | None, dt.datetime | None]:
    """(connector, finished_at) of the newest successful load, or (None, None)."""
    runs = sync_runs(url)
    done = runs[runs["status"] == "ok"] if not runs.empty else runs
    if done.empty:
        return None, None
    newest = done.sort_values("finished_at").iloc[-1]
    return newest["connector"], newest["finished_at"].to_pydatetime()


@_per_generation
@st.cache_data(ttl=LONG_TTL, max_entries=8, show_spinner=False)
def owners(gen: tuple, url: str) -> pd.DataFrame:
    """Every owner (for the owner picker and names)."""
    return queries.read_owners(_reads(url))


@_per_generation
@st.cache_data(ttl=LONG_TTL, max_entries=8, show_spinner=False)
def channels(gen: tuple, url: str) -> list[str]:
    """Every channel seen on leads or deals."""
    bind = _reads(url)
    return sorted(
        set(queries.distinct_values(bind, "leads", "channel"))
        | set(queries.distinct_values(bind, "deals", "channel"))
    )


@_per_generation
@st.cache_data(ttl=LONG_TTL, max_entries=8, show_spinner=False)
def agreement_names(gen: tuple, url: str) -> list[str]:
    """Names of the stored agreements, alphabetically."""
    return sorted(journal.read_agreement_versions(_reads(url))["agreement"].unique().tolist())


@_per_generation
@st.cache_data(ttl=LONG_TTL, max_entries=16, show_spinner=False)
def agreement_versions(gen: tuple, url: str, name: str) -> list[AgreementVersion]:
    """Every saved version of agreement ``name``, oldest first."""
    return versions_from_rows(journal.read_agreement_versions(_reads(url), name))


# A window up to a period plus the Overview's weeks is read as asked (the Overview opens fast); a longer one
# (the 15 periods of trends and baselines) is read further on, so every window of the current month (the
# Overview's, the queue's, the Agreement page's baseline) is cut from it instead of read again.
SMALL_WINDOW = pd.Timedelta(days=100)
SHARED_TAIL = pd.Timedelta(days=38)
FRAMES_TTL = LONG_TTL  # frames are keyed on the generation: a sync outside the app shows within seconds


def window_to_read(start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window read from the database when no window read before covers [start, end).

    >>> window_to_read(pd.Timestamp("2026-11-01", tz="UTC"), pd.Timestamp("2026-12-01", tz="UTC"))[1]
    Timestamp('2026-12-01 00:00:00+0000', tz='UTC')
    >>> window_to_read(pd.Timestamp("2025-10-01", tz="UTC"), pd.Timestamp("2026-11-01", tz="UTC"))[1]
    Timestamp('2026-12-09 00:00:00+0000', tz='UTC')
    """
    return (start, end) if end - start <= SMALL_WINDOW else (start, end + SHARED_TAIL)


@st.cache_resource(show_spinner=False)
def _windows_read(url: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The shared windows asked for on ``url``, newest last (a hint: the frames may have been evicted since)."""
    return []


@_per_generation
@st.cache_resource(ttl=FRAMES_TTL, max_entries=2, show_spinner="Loading data…")
def _window_frames(gen: tuple, url: str, start: str, end: str) -> Mapping[str, pd.DataFrame]:
    """The canonical frames of [start, end) read from the database (data.frames.read_window), read-only."""
    return MappingProxyType(read_window(_reads(url), pd.Timestamp(start), pd.Timestamp(end)))


@_per_generation
@st.cache_resource(ttl=FRAMES_TTL, max_entries=6, show_spinner=False)
def _cut_frames(
    gen: tuple, url: str, start: str, end: str, read_start: str, read_end: str
) -> Mapping[str, pd.DataFrame]:
    """The frames of [start, end) cut from those of the wider [read_start, read_end), as a read of it gives."""
    read = _window_frames(url, read_start, read_end)
    return MappingProxyType(cut_window(read, pd.Timestamp(start), pd.Timestamp(end)))


def frames(url: str, start: str, end: str) -> dict[str, pd.DataFrame]:
    """Canonical frames for the window [start, end) (ISO UTC instants); shared, so never modify them.

    Leads handed over in the window (plus the leads of deals created or closed
    in it), deals created or closed in it, activities from its start until
    :data:`ACTIVITY_TAIL` after its end, and every owner. Cut from a window
    already read when one covers it, else read (:func:`window_to_read`).
    """
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    windows = _windows_read(url)
    covering = sorted((w for w in windows if w[0] <= lo and hi <= w[1]), key=lambda w: w[1] - w[0])
    read = covering[0] if covering else window_to_read(lo, hi)  # the smallest: the cheapest to cut from
    if not covering:
        windows.append(read)
        del windows[:-2]  # as many as _window_frames keeps
    read_start, read_end = read[0].isoformat(), read[1].isoformat()
    if (lo, hi) == read:
        return dict(_window_frames(url, read_start, read_end))
    return dict(_cut_frames(url, lo.isoformat(), hi.isoformat(), read_start, read_end))


def sliced_frames(url: str, start: str, end: str, teams: tuple, owners: tuple, channels: tuple) -> dict:
    """:func:`frames` narrowed to the chosen teams, owner ids and channels (empty = all)."""
    return slice_frames(frames(url, start, end), teams=teams, owners=owners, channels=channels)


@_per_generation
@st.cache_data(ttl=600, max_entries=32, show_spinner="Evaluating the agreement…")
def evaluation(
    gen: tuple,
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
    for view in (sales_view, marketing_view, funnel_view, overview_view):
        view.clear()
    _windows_read.clear()
    _window_frames.clear()
    _cut_frames.clear()
    _as_of_in_use.clear()  # the next run starts a new "as of": never before what was just written


@st.cache_data(ttl=30, show_spinner=False)
def rejected_rows(url: str, source: str | None = None, limit: int | None = 5_000) -> pd.DataFrame:
    """Rows kept aside by syncs and imports (of ``source``, or all), newest first, at most ``limit``."""
    return journal.read_rejected_rows(_reads(url), source=source, limit=limit)


@st.cache_data(ttl=30, show_spinner=False)
def audit(url: str, limit: int | None = 500) -> pd.DataFrame:
    """The audit trail, newest first, at most ``limit`` entries."""
    return journal.read_audit(_reads(url), limit)


@_per_generation
@st.cache_data(ttl=600, max_entries=8, show_spinner="Reading the funnel of the last periods…")
def funnel_assumptions(
    gen: tuple, url: str, agreement: str, start: str, end: str, as_of: str
) -> FunnelAssumptions:
    """:func:`analytics.baseline.trailing_assumptions` of the closed periods before ``as_of`` (frames of [start, end))."""
    return trailing_assumptions(
        agreement_versions(url, agreement), frames(url, start, end), pd.Timestamp(as_of)
    )


# --- one view per page -----------------------------------------------------------------------------------
# A view is cached as a resource, shared by every session and never modified: st.cache_data would pickle it,
# and unpickling its plotly charts (validated again, one by one) cost each warm page 0.4-1.9 s. Its charts
# are laid out for a dashboard column once, here, before the view is shared (pages draw them as they are).


def _figures(value, seen: set[int]):
    """Every plotly figure in ``value``: a view dataclass, its nested parts, lists, tuples and dicts."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, go.Figure):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _figures(getattr(value, field.name), seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _figures(item, seen)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _figures(item, seen)


def _laid_out(view):
    """``view`` with every chart laid out by :func:`analytics.charts.tidy` (once, before it is shared)."""
    for fig in _figures(view, set()):
        tidy(fig)
    return view


def _view_filters(
    period: str, start: str, end: str, as_of: str, teams: tuple, owners: tuple, channels: tuple
):
    from views.filters import Filters

    return Filters(
        period, pd.Timestamp(start), pd.Timestamp(end), pd.Timestamp(as_of), teams, owners, channels
    )


def sales_from_facts() -> bool:
    """ACCORD_SALES_FROM_FACTS as a bool."""
    return settings.switch("ACCORD_SALES_FROM_FACTS")


def stored_source(url: str):
    """The Overview's evaluation source answered by the database (data.stored_evaluation.source), or None."""
    from data.stored_evaluation import source

    return source(_engine_for(url), _reads(url))


def _answered(url: str, answer, read_frames):
    """data.stored_evaluation.answered: ``answer(data)`` from the database where it can, else from the frames."""
    from data.stored_evaluation import answered

    return answered(_engine_for(url), answer, read_frames, reader=_reads(url))


@_per_generation
@st.cache_resource(ttl=600, max_entries=16, show_spinner="Computing the Sales page…")
def sales_view(
    gen: tuple, url: str, agreement: str, period: str, start: str, end: str, as_of: str, teams: tuple = (),
    owners: tuple = (), channels: tuple = (),
):  # fmt: skip
    """views.sales.sales_view of the period [start, end) as of ``as_of``, for the chosen slice.

    With ACCORD_SALES_FROM_FACTS on, where the database keeps its SLA facts current, the clock figures
    come from them (data.fact_views.sales_clock); else, or where the facts cannot answer, from the frames.
    """
    from views.sales import sales_view as view_of

    queue_start, queue_end = queue_window(pd.Timestamp(as_of))
    versions = agreement_versions(url, agreement)
    clock = None
    if sales_from_facts() and fact_upkeep.current(_engine_for(url)):
        clock = fact_views.sales_clock(_reads(url), versions, pd.Timestamp(start), pd.Timestamp(end),
                                       pd.Timestamp(as_of), teams, owners, channels)  # fmt: skip
    return _laid_out(view_of(
        versions, frames(url, start, end),
        frames(url, queue_start.isoformat(), queue_end.isoformat()),
        _view_filters(period, start, end, as_of, teams, owners, channels), clock,
    ))  # fmt: skip


@_per_generation
@st.cache_resource(ttl=600, max_entries=16, show_spinner="Computing the Marketing page…")
def marketing_view(
    gen: tuple, url: str, agreement: str, period: str, start: str, end: str, as_of: str, teams: tuple = (),
    owners: tuple = (), channels: tuple = (), *, history_start: str,
):  # fmt: skip
    """views.marketing.marketing_view of the period [start, end), its trend from ``history_start``, as of ``as_of``.

    Only the period's frames are read; the history (trend, earlier periods' channels) comes from aggregate
    queries (:func:`marketing_history`), not from 15 periods of rows.
    """
    from data.aggregates import history_from_counts
    from views.marketing import marketing_view as view_of

    versions = agreement_versions(url, agreement)
    f = _view_filters(period, start, end, as_of, teams, owners, channels)
    history = history_from_counts(
        marketing_history(url, agreement, start, end, as_of, history_start), versions, f
    )
    return _laid_out(view_of(versions, frames(url, start, end), history, f, pd.Timestamp(history_start)))


@_per_generation
@st.cache_data(ttl=600, max_entries=16, show_spinner="Reading the last periods…")
def marketing_history(
    gen: tuple, url: str, agreement: str, start: str, end: str, as_of: str, history_start: str
):
    """data.aggregates.history_counts of the period [start, end) as of ``as_of``: small frames for every slice,
    so choosing a team, owner or channel slices them in pandas instead of asking the database again."""
    from data.aggregates import history_counts

    return history_counts(_reads(url), agreement_versions(url, agreement), pd.Timestamp(start), pd.Timestamp(end),
                          pd.Timestamp(as_of), pd.Timestamp(history_start))  # fmt: skip


@_per_generation
@st.cache_resource(ttl=600, max_entries=16, show_spinner="Building the funnel…")
def funnel_view(
    gen: tuple, url: str, agreement: str, period: str, start: str, end: str, as_of: str, teams: tuple = (),
    owners: tuple = (), channels: tuple = (), *, history_start: str,
):  # fmt: skip
    """views.funnel.funnel_view of the period [start, end) and the cohorts from ``history_start``, as of ``as_of``.

    Its history comes from aggregate queries (data.funnel_aggregates): no row of the periods is read.
    """
    from data.funnel_aggregates import funnel_history
    from views.funnel import funnel_view as view_of

    versions = agreement_versions(url, agreement)
    f = _view_filters(period, start, end, as_of, teams, owners, channels)
    history = funnel_history(_reads(url), versions, f, pd.Timestamp(history_start))
    return _laid_out(view_of(versions, history, f, pd.Timestamp(history_start)))


# --- Overview: weekly figures, frozen snapshots, the meeting pack -----------------------------------------


@_per_generation
@st.cache_data(ttl=LONG_TTL, max_entries=8, show_spinner=False)
def snapshots(gen: tuple, url: str, agreement: str) -> pd.DataFrame:
    """The frozen weeks of ``agreement`` (data.journal.read_snapshots), oldest first."""
    return journal.read_snapshots(_reads(url), agreement)


@_per_generation
@st.cache_resource(ttl=600, max_entries=16, show_spinner="Computing the week's figures…")
def overview_view(
    gen: tuple, url: str, agreement: str, period: str, start: str, end: str, as_of: str, teams: tuple = (),
    owners: tuple = (), channels: tuple = (), *, week: str,
):  # fmt: skip
    """views.overview.overview_view of ISO ``week`` and the period [start, end) as of ``as_of``, for the slice.

    Frozen figures are used only without a slice (snapshots are for the whole agreement). Where the
    database keeps its SLA facts current, every figure comes from aggregate queries (:func:`stored_source`);
    else, or where they cannot answer, from the rows of the weeks and the period.
    """
    from views.overview import data_window
    from views.overview import overview_view as view_of

    versions = agreement_versions(url, agreement)
    f = _view_filters(period, start, end, as_of, teams, owners, channels)
    frozen = None if f.sliced else snapshots(url, agreement)
    lo, hi = data_window(versions, f, week)
    return _answered(
        url,
        lambda data: view_of(versions, data, frozen, f, week),
        lambda: frames(url, lo.isoformat(), hi.isoformat()),
    )


def freeze_week(
    url: str, agreement: str, week: str, as_of: str, start: str, end: str, actor: str = "Overview"
):
    """Freeze ``week`` (final once it has ended at ``as_of``, else provisional): from aggregate queries where the
    database keeps its SLA facts current (:func:`stored_source`), else from the cached frames.

    Returns reports.weeks.Frozen; forgets the cached snapshots and week figures when something was written.
    """
    from reports.weeks import freeze_week as freeze

    frozen = _answered(
        url,
        lambda data: freeze(_engine_for(url), agreement, week, pd.Timestamp(as_of), actor=actor, frames=data),
        lambda: frames(url, start, end),
    )
    if frozen.written:
        snapshots.clear()
        overview_view.clear()
        meeting_pack.clear()
    return frozen


@_per_generation
@st.cache_data(ttl=600, max_entries=4, show_spinner=False)
def meeting_pack(
    gen: tuple, url: str, agreement: str, period: str, start: str, end: str, as_of: str, week: str
) -> bytes:
    """The meeting pack PDF of ``week`` (whole agreement, frozen weeks as frozen): reports.meeting_pack of its view."""
    from analytics.commitments import document_in_force
    from reports.meeting_pack import build_meeting_pack

    view = overview_view(url, agreement, period, start, end, as_of, week=week)
    document = document_in_force(agreement_versions(url, agreement), view.overview.as_of)
    return build_meeting_pack(view.overview, document)
