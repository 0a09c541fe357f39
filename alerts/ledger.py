"""The alert ledger: every alert is claimed in the database before it is sent and marked after.

Exactly once rests on the unique ``fingerprint`` of :class:`data.models.AlertLedger`: the first
claim of an alert inserts its row (status ``sending``); any later claim of the same alert — a
rerun, an overlapping cron run, a second server — hits the unique key and sends nothing. A failed
send is marked ``failed`` with its error and a ``next_try_at`` that backs off (5 min, 10, 20, ...);
a later run claims it again once that time has come, up to :data:`MAX_ATTEMPTS`. A row still
``sending`` when a new run starts was being sent by a run that died: whether the message left is
unknown, so it becomes ``unknown`` and is not sent again (never twice beats maybe twice).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from data.models import AlertLedger
from data.transactions import transaction

MAX_ATTEMPTS = 5
RETRY_AFTER = dt.timedelta(minutes=5)  # doubles after each failed attempt
DIED_WHILE_SENDING = (
    "the run sending it stopped before recording the result (killed or crashed); not sent again, "
    "as it may have gone out"
)
LEDGER_COLUMNS = [c.name for c in AlertLedger.__table__.columns]


@dataclass(frozen=True)
class Delivery:
    """One alert to one recipient on one channel: what the ledger's unique key is made of."""

    agreement: str
    kind: str
    commitment: str | None
    lead_id: int | None
    subject: str
    window: str
    channel: str
    recipient: str

    @property
    def fingerprint(self) -> str:
        """Return the hex SHA-256 of every part of the key (the lead is in the subject)."""
        parts = (self.agreement, self.kind, self.commitment or "", self.subject, self.window, self.channel,
                 self.recipient.lower())  # fmt: skip
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def claim(bind: Engine | Connection, delivery: Delivery, run_id: int | None, now: dt.datetime) -> int | None:
    """Claim ``delivery`` for sending; returns its ledger row id, or None when it is not to be sent.

    None when it was sent, is being sent, ended unknown, or failed and its next try has not come
    (or it has used its :data:`MAX_ATTEMPTS`).
    """
    t = AlertLedger.__table__
    values = dict(
        fingerprint=delivery.fingerprint,
        agreement=delivery.agreement,
        kind=delivery.kind,
        commitment=delivery.commitment,
        lead_id=delivery.lead_id,
        subject=delivery.subject[:255],
        window=delivery.window,
        channel=delivery.channel,
        recipient=delivery.recipient[:320],
        status="sending",
        attempts=1,
        claimed_at=now,
        run_id=run_id,
    )
    try:
        with transaction(bind) as conn:
            return conn.execute(insert(AlertLedger).values(**values)).inserted_primary_key[0]
    except IntegrityError:
        pass
    with transaction(bind) as conn:
        row = conn.execute(select(t).where(t.c.fingerprint == delivery.fingerprint)).mappings().first()
        if row is None or row["status"] != "failed" or row["attempts"] >= MAX_ATTEMPTS:
            return None
        if row["next_try_at"] is not None and row["next_try_at"] > now:
            return None
        # Only one claimant wins the retry: the update matches only while the row is as it was read.
        won = conn.execute(
            t.update()
            .where(t.c.id == row["id"], t.c.status == "failed", t.c.attempts == row["attempts"])
            .values(status="sending", attempts=row["attempts"] + 1, claimed_at=now, run_id=run_id)
        ).rowcount
    return row["id"] if won == 1 else None


def mark_sent(bind: Engine | Connection, row_id: int, now: dt.datetime) -> None:
    """Record that the alert of ledger row ``row_id`` was accepted by its channel at ``now``."""
    t = AlertLedger.__table__
    with transaction(bind) as conn:
        conn.execute(t.update().where(t.c.id == row_id).values(status="sent", sent_at=now, error=None,
                                                               next_try_at=None))  # fmt: skip


def mark_failed(bind: Engine | Connection, row_id: int, error: str, now: dt.datetime) -> dt.datetime | None:
    """Record a failed send of row ``row_id`` with ``error``; returns when it will be tried again (None: never)."""
    t = AlertLedger.__table__
    with transaction(bind) as conn:
        attempts = conn.execute(select(t.c.attempts).where(t.c.id == row_id)).scalar_one()
        retry = now + RETRY_AFTER * 2 ** (attempts - 1) if attempts < MAX_ATTEMPTS else None
        conn.execute(t.update().where(t.c.id == row_id).values(status="failed", error=error[:2000],
                                                               next_try_at=retry))  # fmt: skip
    return retry


def settle_interrupted(bind: Engine | Connection, run_id: int | None) -> int:
    """Mark rows left ``sending`` by other runs as ``unknown`` (call while holding the run lock); returns how many."""
    t = AlertLedger.__table__
    with transaction(bind) as conn:
        others = t.c.run_id.is_(None) if run_id is None else (t.c.run_id != run_id) | t.c.run_id.is_(None)
        return conn.execute(
            t.update()
            .where(t.c.status == "sending", others)
            .values(status="unknown", error=DIED_WHILE_SENDING)
        ).rowcount


def known(bind: Engine | Connection, deliveries: Iterable[Delivery]) -> dict[str, str]:
    """Return ``{fingerprint: status}`` of the deliveries already in the ledger."""
    wanted = list({d.fingerprint for d in deliveries})
    t = AlertLedger.__table__
    out: dict[str, str] = {}
    with transaction(bind) as conn:
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            out.update(
                conn.execute(select(t.c.fingerprint, t.c.status).where(t.c.fingerprint.in_(chunk))).all()
            )
    return out


def read_ledger(
    bind: Engine | Connection, limit: int | None = 500, status: str | None = None
) -> pd.DataFrame:
    """The ledger, newest claim first (every column); only rows of ``status`` when given."""
    t = AlertLedger.__table__
    query = select(t).order_by(t.c.id.desc())
    if status is not None:
        query = query.where(t.c.status == status)
    if limit is not None:
        query = query.limit(limit)
    with transaction(bind) as conn:
        rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=LEDGER_COLUMNS)
    for column in ("claimed_at", "sent_at", "next_try_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def status_counts(bind: Engine | Connection) -> Mapping[str, int]:
    """Return how many ledger rows have each status."""
    t = AlertLedger.__table__
    with transaction(bind) as conn:
        return dict(conn.execute(select(t.c.status, func.count()).group_by(t.c.status)).all())


def last_alerted(bind: Engine | Connection, lead_ids: Iterable[int]) -> pd.DataFrame:
    """Return per lead of ``lead_ids`` its last sent alert: ``lead_id``, ``kind``, ``sent_at`` (for the Sales queue)."""
    ids = [int(i) for i in lead_ids]
    t = AlertLedger.__table__
    rows = []
    with transaction(bind) as conn:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows += conn.execute(
                select(t.c.lead_id, t.c.kind, t.c.sent_at).where(t.c.lead_id.in_(chunk), t.c.status == "sent")
            ).all()
    frame = pd.DataFrame(rows, columns=["lead_id", "kind", "sent_at"])
    frame["sent_at"] = pd.to_datetime(frame["sent_at"], utc=True)
    frame = frame.sort_values("sent_at").drop_duplicates("lead_id", keep="last")
    return frame.reset_index(drop=True)
