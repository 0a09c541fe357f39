"""The data generation: a small token that changes whenever anything the dashboard's figures show changes.

The pages cache their frames and views per generation (pages/components/loaders.py), so a sync run outside
the app (cli.py, cron, another server) shows as soon as the token is read again, and an unchanged database
is never read twice. The token is a handful of indexed reads, cheap at any size:

- the newest id of every table the figures come from (owners, leads, deals, activities, handovers,
  agreement versions, weekly snapshots, rejected rows, the audit log, sync runs): every insert; and the
  newest weekly snapshot's freezing (a provisional snapshot is replaced in place);
- the newest run's status and end, and each running run's heartbeat: a run ending (whatever it updated in
  place) and a run's batches committing while it runs (its heartbeat moves every 30 s);
- every sync state row (cursors, checkpoints, record-link bases, the facts mark): a connector's batch
  commits its rows with its cursor, so a batch shows at once.

Writes that replace rows in place outside a run say so in the audit log (removing the demo company,
replacing a provisional snapshot, saving an agreement), so its newest id moves. Alert runs and their audit
entries (connector ``alerts``, actions ``alert.*``) are left out: they change no figure, and a cron sending
alerts every few minutes would otherwise start a new generation each time.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Connection, Engine, func, select

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
