"""The data generation: a small token that changes whenever anything the dashboard's figures show changes.

The pages cache their frames and views per generation (pages/components/loaders.py), so a sync run outside
the app (cli.py, cron, another server) shows as soon as the token is read again, and an unchanged database
is never read twice. The token is a handful of indexed reads, cheap at any size:

- the newest id of every table the figures come from (owners, leads, deals, activities, handovers,
  agreement versions, weekly snapshots, rejected rows, the audit log, sync runs): every insert; and the
  newest weekly snapshot's freezing (a provisional snapshot is replaced in place);
- the newest run's status and end: a run ending, whatever it updated in place;
- every sync state row (cursors, checkpoints, record-link bases, the facts mark).

While a run is running its batches commit every few seconds; the token then moves only every
:data:`RUNNING_STEP_SECONDS` (and with a saved agreement or a frozen week), so viewers re-read the period
at that pace, not per batch, and at once when the run ends.

Writes that replace rows in place outside a run say so in the audit log (removing the demo company,
replacing a provisional snapshot, saving an agreement), so its newest id moves. Alert runs and their audit
entries (connector ``alerts``, actions ``alert.*``) are left out: they change no figure, and a cron sending
alerts every few minutes would otherwise start a new generation each time.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Connection, Engine, func, select

import clock
from data.models import (
    CANONICAL_MODELS,
    AgreementVersion,
    AuditEntry,
    Handover,
    RejectedRow,
    SyncRun,
    SyncState,
    WeeklySnapshot,
)
from data.transactions import transaction

ALERTS_CONNECTOR = "alerts"  # alerts.dispatch.CONNECTOR: its runs change no figure
_NEWEST_ID = (*CANONICAL_MODELS.values(), Handover, AgreementVersion, WeeklySnapshot, RejectedRow)
# The newest agreement version, weekly snapshot and its freezing (positions in the ids the token reads).
_KEPT_WHILE_RUNNING = (len(_NEWEST_ID) - 3, len(_NEWEST_ID) - 2, len(_NEWEST_ID) + 1)
RUNNING_STEP_SECONDS = 300  # while a run is running, how often its batches show


def generation(bind: Engine | Connection) -> tuple:
    """The data generation of ``bind``'s database: a tuple of ids, instants and a digest, equal between two
    reads only if nothing the figures show was written in between (see the module's docstring)."""
    runs, audit, state = SyncRun.__table__, AuditEntry.__table__, SyncState.__table__
    not_alerts = runs.c.connector != ALERTS_CONNECTOR
    newest = [select(func.max(model.__table__.c.id)).scalar_subquery() for model in _NEWEST_ID]
    newest.append(select(func.max(audit.c.id)).where(audit.c.action.not_like("alert.%")).scalar_subquery())
    newest.append(
        select(func.max(WeeklySnapshot.__table__.c.frozen_at)).scalar_subquery()
    )  # a few rows a week
    with transaction(bind) as conn:
        ids = _plain(conn.execute(select(*newest)).one())
        last_run = conn.execute(
            select(runs.c.id, runs.c.status, runs.c.finished_at)
            .where(not_alerts)
            .order_by(runs.c.id.desc())
            .limit(1)
        ).first()
        running = conn.execute(
            select(runs.c.id, runs.c.heartbeat_at)
            .where(runs.c.status == "running", not_alerts)
            .order_by(runs.c.id)
        ).all()
        states = conn.execute(
            select(
                state.c.connector, state.c.object, state.c.cursor, state.c.checkpoint, state.c.updated_at
            ).order_by(state.c.connector, state.c.object)
        ).all()
    if running:
        # A running run commits a batch every few seconds (new ids, its cursor, its heartbeat): a token that
        # moved with each would have every viewer read the period again as often (seconds at a million
        # leads, a minute at ten). Until it ends the token moves every RUNNING_STEP_SECONDS, and with a saved
        # agreement or a frozen week; its end moves it at once.
        step = int(clock.now().timestamp() // RUNNING_STEP_SECONDS)
        return ("running", tuple(r[0] for r in running), step, tuple(ids[i] for i in _KEPT_WHILE_RUNNING))
    return (
        ids,
        None if last_run is None else _plain(last_run),
        tuple(_plain(r) for r in running),
        _digest(states),
    )


def _plain(row) -> tuple:
    """A row as a tuple of ints and text (instants as ISO text), equal whenever the row's values are."""
    return tuple(v if v is None or isinstance(v, int) else str(v) for v in row)


def _digest(rows) -> str:
    """A short hash of ``rows`` (JSON checkpoints included): the sync state is small, its text need not be kept."""
    text = json.dumps([list(r) for r in rows], default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
