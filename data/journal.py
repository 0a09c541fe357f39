"""What Accord records beside the canonical rows: rejected rows with their reasons, agreement versions, weekly
snapshots and the audit trail (secrets masked before anything is stored).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

import clock
import settings
from data.models import AgreementVersion, AuditEntry, RejectedRow, WeeklySnapshot
from data.transactions import transaction
from errors import AccordError


def add_rejected_rows(bind: Engine | Connection, rows: Sequence[dict], run_id: int | None = None) -> int:
    """Keep bad input aside with its reasons; returns how many were new.

    Each row is a dict with ``source``, ``object``, ``reasons`` and optionally
    ``external_id``, ``row_number``, ``column_name``, ``raw`` (any JSON-able
    value). The same bad record seen again (same source, object, id, row and
    raw payload) is recorded once, with its ``seen_at`` refreshed.
    """
    if not rows:
        return 0
    t = RejectedRow.__table__
    now = clock.now()
    records = {}
    for row in rows:
        raw = row.get("raw")
        raw_text = (
            raw if isinstance(raw, str) or raw is None else json.dumps(raw, default=str, sort_keys=True)
        )
        reasons = row["reasons"] if isinstance(row["reasons"], str) else "; ".join(row["reasons"])
        fingerprint = hashlib.sha256(
            json.dumps(
                [row["source"], row["object"], row.get("external_id"), row.get("row_number"), raw_text],
                default=str,
            ).encode()
        ).hexdigest()
        records[fingerprint] = {
            "source": row["source"],
            "object": row["object"],
            # The column holds 255 characters; an over-long id is itself often why the row was rejected.
            "external_id": None if row.get("external_id") is None else str(row["external_id"])[:255],
            "row_number": row.get("row_number"),
            "column_name": row.get("column_name"),
            "raw": raw_text,
            "reasons": reasons,
            "run_id": run_id,
            "fingerprint": fingerprint,
            "seen_at": now,
        }
    with transaction(bind) as conn:
        existing = set()
        keys = list(records)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            existing.update(conn.execute(select(t.c.fingerprint).where(t.c.fingerprint.in_(chunk))).scalars())
        dialect_insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
        stmt = dialect_insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                "seen_at": stmt.excluded.seen_at,
                "reasons": stmt.excluded.reasons,
                "run_id": stmt.excluded.run_id,
            },
        )
        conn.execute(stmt, list(records.values()))
    return len(records) - len(existing)


def read_rejected_rows(
    bind: Engine | Connection, source: str | None = None, obj: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Kept-aside rows, newest first: source, object, external_id, row_number, column_name, reasons, raw, seen_at."""
    t = RejectedRow.__table__
    query = select(t).order_by(t.c.seen_at.desc(), t.c.id.desc())
    if source is not None:
        query = query.where(t.c.source == source)
    if obj is not None:
        query = query.where(t.c.object == obj)
    if limit is not None:
        query = query.limit(limit)
    with transaction(bind) as conn:
        rows = conn.execute(query).mappings().all()
    columns = [
        "id",
        "source",
        "object",
        "external_id",
        "row_number",
        "column_name",
        "reasons",
        "raw",
        "run_id",
        "seen_at",
    ]
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
    frame["seen_at"] = pd.to_datetime(frame["seen_at"], utc=True)
    return frame


def add_agreement_version(
    bind: Engine | Connection,
    agreement: str,
    document: dict,
    effective_from: dt.datetime,
    author: str | None,
    reason: str | None,
) -> int:
    """Save a new version of ``agreement`` (never an update); returns its version number."""
    t = AgreementVersion.__table__
    with transaction(bind) as conn:
        latest = conn.execute(select(func.max(t.c.version)).where(t.c.agreement == agreement)).scalar_one()
        version = (latest or 0) + 1
        conn.execute(
            insert(t).values(
                agreement=agreement,
                version=version,
                effective_from=effective_from,
                document=document,
                author=author,
                reason=reason,
                created_at=clock.now(),
            )
        )
    return version


def read_agreement_versions(bind: Engine | Connection, agreement: str | None = None) -> pd.DataFrame:
    """Saved versions, oldest first: agreement, version, effective_from, document (dict), author, reason, created_at."""
    t = AgreementVersion.__table__
    query = select(t).order_by(t.c.agreement, t.c.version)
    if agreement is not None:
        query = query.where(t.c.agreement == agreement)
    with transaction(bind) as conn:
        rows = conn.execute(query).mappings().all()
    columns = ["agreement", "version", "effective_from", "document", "author", "reason", "created_at"]
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
    for column in ("effective_from", "created_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


class SnapshotFrozenError(AccordError, RuntimeError):
    """A final weekly snapshot exists and is never replaced."""


def save_snapshot(
    bind: Engine | Connection, agreement: str, week: str, figures: list[dict], final: bool
) -> bool:
    """Freeze the figures of ISO ``week`` ("2026-W48"); returns True if written.

    A provisional snapshot is replaced by a later one; a final snapshot is
    written once and then kept as it was (saving it again returns False).
    Safe when several servers freeze the same week at once: the insert yields to
    one that landed first (the unique key), and a provisional row is replaced
    only while it is still provisional, so a final snapshot is written once.
    """
    t = WeeklySnapshot.__table__
    payload = json.loads(json.dumps(figures, default=str))
    this_week = (t.c.agreement == agreement) & (t.c.week == week)
    with transaction(bind) as conn:
        values = {"final": final, "frozen_at": clock.now(), "figures": payload}
        if conn.execute(select(t.c.id).where(this_week)).first() is None:
            dialect_insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
            added = conn.execute(
                dialect_insert(t)
                .values(agreement=agreement, week=week, **values)
                .on_conflict_do_nothing(index_elements=["agreement", "week"])
                .returning(t.c.id)  # a row back: inserted (rowcount is not told reliably with RETURNING)
            ).first()
            if added is not None:
                return True
        # A row exists (perhaps since a moment ago, from another server): replace it only if provisional.
        replaced = conn.execute(t.update().where(this_week, t.c.final.is_(False)).values(**values))
    return replaced.rowcount == 1


def read_snapshots(
    bind: Engine | Connection, agreement: str, weeks: Sequence[str] | None = None
) -> pd.DataFrame:
    """Frozen weeks of ``agreement``, oldest first: week, final, frozen_at, figures (list of dicts)."""
    t = WeeklySnapshot.__table__
    query = select(t.c.week, t.c.final, t.c.frozen_at, t.c.figures).where(t.c.agreement == agreement)
    if weeks is not None:
        query = query.where(t.c.week.in_(list(weeks)))
    with transaction(bind) as conn:
        rows = conn.execute(query.order_by(t.c.week)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=["week", "final", "frozen_at", "figures"])
    frame["frozen_at"] = pd.to_datetime(frame["frozen_at"], utc=True)
    return frame


def add_audit(
    bind: Engine | Connection, actor: str, action: str, target: str | None = None, detail: dict | None = None
) -> None:
    """Record that ``actor`` did ``action`` (e.g. "agreement.save", "sync.hubspot", "import.leads") on ``target``."""
    with transaction(bind) as conn:
        conn.execute(
            insert(AuditEntry).values(
                at=clock.now(),
                actor=actor,
                action=action,
                target=target,
                detail=None if detail is None else scrubbed(json.loads(json.dumps(detail, default=str))),
            )
        )


def scrubbed(value):
    """``value`` (text, or JSON made of lists and mappings) with every secret masked (settings.scrub)."""
    if isinstance(value, str):
        return settings.scrub(value)
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    if isinstance(value, dict):
        return {k: scrubbed(v) for k, v in value.items()}
    return value


def read_audit(bind: Engine | Connection, limit: int | None = 500, action: str | None = None) -> pd.DataFrame:
    """The audit trail, newest first: at, actor, action, target, detail (only ``action``'s entries if given)."""
    t = AuditEntry.__table__
    query = select(t.c.at, t.c.actor, t.c.action, t.c.target, t.c.detail).order_by(t.c.id.desc())
    if action is not None:
        query = query.where(t.c.action == action)
    if limit is not None:
        query = query.limit(limit)
    with transaction(bind) as conn:
        rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=["at", "actor", "action", "target", "detail"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame
