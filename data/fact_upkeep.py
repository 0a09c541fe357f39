"""Keeping the SLA facts current: what a sync or import touched, refreshed when its run finishes.

The writes of :mod:`data.upserts` note what they touch (:func:`touched`): leads by key, activities by the
keys of the leads they belong to now and belonged to before, owners by key (their leads' team and
calendar), handovers by lead key; a deleted source or a merge takes its leads' facts away at once
(:func:`forget`). When a run ends
(:func:`data.syncs.finish_run`), :func:`after_run` refreshes the facts of those leads for every stored
agreement version; a saved agreement version gets its own facts, the earlier versions' stay as they are
(:func:`after_agreement_saved`). Notes are kept per engine in this process until a refresh has
succeeded, so a refresh that fails is tried again after the next run. Past :data:`MAX_NOTED` keys (a
big import) the next refresh is a full one.

Facts are kept only in a database that asked for them: :func:`refresh_all` (``cli.py db facts``) builds
them and marks the database (:func:`kept`), and from then on every write keeps them current. While they are
:func:`current`, the Overview and the meeting pack take every figure from aggregate queries over them and
the leads and deals tables (:mod:`data.stored_evaluation`, ``ACCORD_FIGURES_FROM_DATABASE``), and the Sales
page its clock figures with ``ACCORD_SALES_FROM_FACTS`` on (:mod:`data.fact_views`; with the period's rows
still read for its histogram, delays and queue that measured no faster). Elsewhere the pages read rows, so a
first start, an agreement save and every sync pay nothing for facts until asked. A bulk load into a database
that keeps facts goes :func:`deferred`: no upkeep per batch, one refresh of everything at its end.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import clock
from analytics.agreement import versions_from_rows
from data import facts, journal
from data.models import CANONICAL_MODELS, SyncState
from data.transactions import transaction

MAX_NOTED = 100_000  # keys noted before a refresh of everything is cheaper than one by lead
_CHUNK = 500


@dataclass
class Notes:
    """What the writes to one database touched since its facts were last refreshed."""

    leads: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # source -> lead keys
    owners: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # source -> owner keys
    everything: bool = False

    def size(self) -> int:
        return sum(len(k) for k in self.leads.values()) + sum(len(k) for k in self.owners.values())

    def overflow(self) -> None:
        """Too many keys: the next refresh is a full one."""
        self.everything = True
        self.leads.clear()
        self.owners.clear()

    def add(self, kind: str, source_keys: pd.DataFrame) -> None:
        """Note ``(source, key)`` rows of ``kind`` ("leads" or "owners"); too many make it ``everything``."""
        if self.everything or source_keys.empty:
            return
        if self.size() + len(source_keys) > MAX_NOTED:
            self.overflow()
            return
        kept = source_keys.dropna()
        for source, keys in kept.groupby(kept.columns[0], sort=False)[kept.columns[1]]:
            getattr(self, kind)[str(source)].update(keys.astype(str))

    def merge(self, other: Notes) -> None:
        self.everything |= other.everything
        for kind in ("leads", "owners"):
            for source, keys in getattr(other, kind).items():
                getattr(self, kind)[source].update(keys)
        if self.everything or self.size() > MAX_NOTED:
            self.overflow()


# Per engine (a connection's engine for writes made through it); gone with the engine.
_PENDING: weakref.WeakKeyDictionary[Engine, Notes] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


_MARK = ("facts", "kept")  # (connector, object) of the sync_state row that says facts are kept


_DEFERRED = threading.local()  # engines whose writes in this thread are not noted (a bulk load)


@contextmanager
def deferred(bind: Engine | Connection) -> Iterator[None]:
    """Write without upkeep in this thread, then refresh every fact once (when the database keeps them).

    For a bulk load (the demo company): noting and refreshing batch by batch would cost more than one
    refresh of everything. If the block fails, the next :func:`after_run` refreshes everything.
    """
    key = _database(bind)
    engines = _DEFERRED.__dict__.setdefault("engines", set())
    engines.add(key)
    try:
        yield
    except BaseException:
        with _LOCK:
            _PENDING.setdefault(key, Notes()).overflow()
        raise
    finally:
        engines.discard(key)
    if kept(bind):
        refresh_all(bind)


def _deferring(bind: Engine | Connection) -> bool:
    return _database(bind) in _DEFERRED.__dict__.get("engines", ())


def kept(bind: Engine | Connection) -> bool:
    """Whether this database keeps SLA facts current (:func:`refresh_all` marked it)."""
    t = SyncState.__table__
    query = sa.select(t.c.id).where(t.c.connector == _MARK[0], t.c.object == _MARK[1])
    if isinstance(bind, Connection):
        return bind.execute(query).first() is not None
    with transaction(bind) as conn:
        return conn.execute(query).first() is not None


def current(bind: Engine | Connection) -> bool:
    """Whether this database keeps SLA facts and nothing written through this process waits for a refresh."""
    with _LOCK:
        notes = _PENDING.get(_database(bind))
    return kept(bind) and (notes is None or (not notes.everything and not notes.size()))


def _keep(conn: Connection) -> None:
    t = SyncState.__table__
    if not kept(conn):
        conn.execute(
            t.insert().values(connector=_MARK[0], object=_MARK[1], cursor="on", updated_at=clock.now())
        )


def _refreshed(bind: Engine | Connection) -> None:
    """Stamp the mark with the refresh: the data generation (:mod:`data.generation`) reads it, so a view built
    between a run's end and its facts' refresh (new rows, old facts) is not kept for that generation."""
    t = SyncState.__table__
    with transaction(bind) as conn:
        conn.execute(
            t.update().where(t.c.connector == _MARK[0], t.c.object == _MARK[1]).values(updated_at=clock.now())
        )


def _database(bind: Engine | Connection) -> Engine:
    return bind.engine


def _notes(bind: Engine | Connection) -> Notes:
    with _LOCK:
        return _PENDING.setdefault(_database(bind), Notes())


def touched(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    """Note the leads that writing ``frame`` (canonical rows of ``table``, or handovers) into ``conn`` touches.

    Called before the write: an activity's lead is looked up as stored, so a lead it moves away from
    is refreshed too.
    """
    if _deferring(conn) or not kept(conn):
        return
    notes = _notes(conn)
    if notes.everything:
        return
    if len(frame) + notes.size() > MAX_NOTED:
        notes.overflow()
        return
    if table == "leads":
        notes.add("leads", frame[["source", "external_id"]])
    elif table == "owners":
        notes.add("owners", frame[["source", "external_id"]])
    elif table == "handovers":
        notes.add("leads", frame[["source", "lead_external_id"]])
    elif table == "activities":
        if "lead_external_id" in frame.columns:
            notes.add("leads", frame[["source", "lead_external_id"]])
        notes.add("leads", _stored_leads_of_activities(conn, frame))


def forget(conn: Connection, source: str, external_ids: list[str] | None = None) -> None:
    """Delete the facts of the stored leads of ``source`` (only ``external_ids`` when given), before they go."""
    if _deferring(conn) or not kept(conn):
        return
    leads = CANONICAL_MODELS["leads"].__table__
    mine = leads.c.source == source
    keys = [None] if external_ids is None else external_ids
    stored = facts.stored_commitments(conn)
    for begin in range(0, len(keys), _CHUNK):
        where = mine if external_ids is None else mine & leads.c.external_id.in_(keys[begin : begin + _CHUNK])
        facts.delete_leads(conn, sa.select(leads.c.id).where(where), stored)


def _stored_leads_of_activities(conn: Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """``source``, ``lead_external_id`` of the stored activities ``frame`` is about to overwrite."""
    t = CANONICAL_MODELS["activities"].__table__
    found = []
    for source, keys in frame.groupby("source", sort=False)["external_id"]:
        keys = keys.astype(str).tolist()
        for begin in range(0, len(keys), _CHUNK):
            where = (t.c.source == source) & t.c.external_id.in_(keys[begin : begin + _CHUNK])
            query = sa.select(t.c.source, t.c.lead_external_id).where(where).distinct()
            found.extend(conn.execute(query).all())
    return pd.DataFrame(found, columns=["source", "lead_external_id"])


def _stored_versions(bind: Engine | Connection, agreement: str | None = None) -> dict[str, list]:
    rows = journal.read_agreement_versions(bind, agreement)
    return {name: versions_from_rows(group) for name, group in rows.groupby("agreement", sort=True)}


def after_run(bind: Engine | Connection) -> int:
    """Refresh the facts of what the writes touched since the last refresh; returns the fact rows written.

    Every stored agreement's versions are refreshed for those leads (all leads after a big import).
    Without a stored agreement there is nothing to refresh.
    """
    key = _database(bind)
    with _LOCK:
        notes = _PENDING.pop(key, None)
    if notes is None:
        return 0
    try:
        written = _refresh(bind, notes)
    except BaseException:
        with _LOCK:  # tried again after the next run
            _PENDING.setdefault(key, Notes()).merge(notes)
        raise
    _refreshed(bind)
    return written


def _refresh(bind: Engine | Connection, notes: Notes) -> int:
    if notes.everything:
        return refresh_all(bind)
    agreements = _stored_versions(bind)
    if not agreements:
        return 0
    written = 0
    ids = _lead_ids(bind, notes)
    if ids:
        frames = facts.read_frames(bind, ids)
        for versions in agreements.values():
            written += facts.refresh_facts(bind, versions, frames, lead_ids=ids)
    return written


def _lead_ids(bind: Engine | Connection, notes: Notes) -> list[int]:
    """The stored ids of the noted leads and of the noted owners' leads."""
    t = CANONICAL_MODELS["leads"].__table__
    found: set[int] = set()
    with transaction(bind) as conn:
        for kind, column in (("leads", t.c.external_id), ("owners", t.c.owner_external_id)):
            for source, keys in getattr(notes, kind).items():
                keys = sorted(keys)
                for begin in range(0, len(keys), _CHUNK):
                    where = (t.c.source == source) & column.in_(keys[begin : begin + _CHUNK])
                    found.update(conn.execute(sa.select(t.c.id).where(where)).scalars())
    return sorted(found)


def refresh_all(bind: Engine | Connection) -> int:
    """Recompute every fact of every stored agreement's versions from all stored rows; returns the rows written.

    From then on the database keeps its facts current (:func:`kept`).
    """
    with transaction(bind) as conn:
        _keep(conn)
    agreements = _stored_versions(bind)
    if not agreements:
        return 0
    # One read of every lead for every agreement, unless there are so many that each refresh reads in runs.
    frames = None if facts.read_in_runs(bind) else facts.read_frames(bind)
    written = sum(facts.refresh_facts(bind, versions, frames) for versions in agreements.values())
    _refreshed(bind)
    return written


def after_agreement_saved(bind: Engine | Connection, agreement: str, version: int | None = None) -> int:
    """Compute the facts of ``agreement``'s saved ``version`` (all its versions when None); returns the rows written.

    A stored version never changes, and each version's facts depend only on its own document and the
    rows: saving a version leaves the facts of the earlier ones as they are, so the save costs one
    version's refresh however long the agreement's history; and the clocks it defines as an earlier
    version did are copied from that version's facts (:func:`data.facts.refresh_version`).
    """
    if not kept(bind):
        return 0
    versions = _stored_versions(bind, agreement).get(agreement) or []
    if version is not None:
        saved = [v for v in versions if int(v.version) == int(version)]
        # The clocks the change left alone are copied from an earlier version's facts, not recomputed.
        return facts.refresh_version(bind, saved[0], versions) if saved else 0
    return facts.refresh_facts(bind, versions) if versions else 0
