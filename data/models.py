"""SQLAlchemy 2 models of the canonical tables (see ../shared/design.md).

Timestamps are UTC and timezone-aware on both backends: PostgreSQL stores
``timestamptz``; SQLite, which has no timestamp type, stores integer
microseconds since the Unix epoch (UTC), which also keeps reads of a million
rows fast (no string parsing).

Connector tables link rows by the source's own ids (``owner_external_id``,
``lead_external_id``) within the same ``source``, so a sync may write leads
before their owner arrives; the repository resolves surrogate ids on read.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from analytics.schema import TEXT_LIMITS

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime: timestamptz on PostgreSQL, epoch µs on SQLite.

    Naive datetimes are taken as UTC; aware ones are converted to UTC.
    Integers are accepted as already-encoded epoch microseconds (bulk writes).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, int):
            return value if dialect.name == "sqlite" else EPOCH + dt.timedelta(microseconds=value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return (value - EPOCH) // dt.timedelta(microseconds=1)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return EPOCH + dt.timedelta(microseconds=int(value))
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


def _text(table: str, column: str) -> String:
    """The String type of a canonical text column, its length from ``analytics.schema.TEXT_LIMITS``."""
    return String(TEXT_LIMITS[table][column])


def _source_key(table: str) -> UniqueConstraint:
    return UniqueConstraint("source", "external_id", name=f"uq_{table}_source_external_id")


class Owner(Base):
    __tablename__ = "owners"
    __table_args__ = (_source_key("owners"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(_text("owners", "source"))
    external_id: Mapped[str] = mapped_column(_text("owners", "external_id"))
    name: Mapped[str | None] = mapped_column(_text("owners", "name"))
    email: Mapped[str | None] = mapped_column(_text("owners", "email"))
    team: Mapped[str | None] = mapped_column(_text("owners", "team"))
    active: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        _source_key("leads"),
        Index("ix_leads_mql_at", "mql_at"),
        Index("ix_leads_created_at", "created_at"),
        Index("ix_leads_owner", "source", "owner_external_id"),
        Index("ix_leads_channel", "channel"),  # the channel picker's distinct values, without a scan
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(_text("leads", "source"))
    external_id: Mapped[str] = mapped_column(_text("leads", "external_id"))
    created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    mql_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sql_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    owner_external_id: Mapped[str | None] = mapped_column(_text("leads", "owner_external_id"))
    owner_assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(_text("leads", "channel"))
    campaign: Mapped[str | None] = mapped_column(_text("leads", "campaign"))
    lifecycle_stage: Mapped[str | None] = mapped_column(_text("leads", "lifecycle_stage"))
    lead_status: Mapped[str | None] = mapped_column(_text("leads", "lead_status"))
    first_touch_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    touches: Mapped[int | None] = mapped_column(Integer)
    disposition: Mapped[str | None] = mapped_column(_text("leads", "disposition"))
    disposition_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(_text("leads", "rejection_reason"))
    segment: Mapped[str | None] = mapped_column(_text("leads", "segment"))
    archived: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Who the lead is (the records behind a figure); shown only to roles that may see the page, never logged.
    name: Mapped[str | None] = mapped_column(_text("leads", "name"))
    company: Mapped[str | None] = mapped_column(_text("leads", "company"))
    email: Mapped[str | None] = mapped_column(_text("leads", "email"))


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        _source_key("deals"),
        Index("ix_deals_created_at", "created_at"),
        Index("ix_deals_closed_at", "closed_at"),
        Index("ix_deals_lead", "source", "lead_external_id"),  # a lead's deals (handovers, merges, links)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(_text("deals", "source"))
    external_id: Mapped[str] = mapped_column(_text("deals", "external_id"))
    name: Mapped[str | None] = mapped_column(_text("deals", "name"))
    created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    amount: Mapped[float | None] = mapped_column(Float(53))
    currency: Mapped[str | None] = mapped_column(_text("deals", "currency"))
    stage: Mapped[str | None] = mapped_column(_text("deals", "stage"))
    pipeline: Mapped[str | None] = mapped_column(_text("deals", "pipeline"))
    is_closed: Mapped[bool | None] = mapped_column(Boolean)
    is_won: Mapped[bool | None] = mapped_column(Boolean)
    owner_external_id: Mapped[str | None] = mapped_column(_text("deals", "owner_external_id"))
    channel: Mapped[str | None] = mapped_column(_text("deals", "channel"))
    lead_external_id: Mapped[str | None] = mapped_column(_text("deals", "lead_external_id"))
    archived: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (
        _source_key("activities"),
        Index("ix_activities_occurred_at", "occurred_at"),
        Index("ix_activities_lead", "source", "lead_external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(_text("activities", "source"))
    external_id: Mapped[str] = mapped_column(_text("activities", "external_id"))
    lead_external_id: Mapped[str | None] = mapped_column(_text("activities", "lead_external_id"))
    owner_external_id: Mapped[str | None] = mapped_column(_text("activities", "owner_external_id"))
    kind: Mapped[str | None] = mapped_column(_text("activities", "kind"))
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    archived: Mapped[bool | None] = mapped_column(Boolean)


class AgreementVersion(Base):
    """One saved version of an agreement; rows are only ever inserted."""

    __tablename__ = "agreement_versions"
    __table_args__ = (
        UniqueConstraint("agreement", "version", name="uq_agreement_versions_agreement_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    document: Mapped[dict] = mapped_column(JSON)
    author: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SyncState(Base):
    """The cursor (and mid-run checkpoint) of one connector object."""

    __tablename__ = "sync_state"
    __table_args__ = (UniqueConstraint("connector", "object", name="uq_sync_state_connector_object"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(Text)
    checkpoint: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SyncRun(Base):
    """One run of a sync or import: when, how it ended, what it counted."""

    __tablename__ = "sync_runs"
    # At most one run per connector is "running": the database itself refuses a second one, across
    # processes and machines (a cron sync and a "Sync now" click never write the same rows at once).
    __table_args__ = (
        Index(
            "uq_sync_runs_one_running",
            "connector",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # Who runs it and when it last said it was alive: how a later run tells a live one from a dead one.
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RejectedRow(Base):
    """Input that could not be used, kept with its reasons; one row per distinct bad record."""

    __tablename__ = "rejected_rows"
    __table_args__ = (UniqueConstraint("fingerprint", name="uq_rejected_rows_fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(255))
    row_number: Mapped[int | None] = mapped_column(BigInteger)
    column_name: Mapped[str | None] = mapped_column(String(255))
    raw: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


CANONICAL_MODELS = {"owners": Owner, "leads": Lead, "deals": Deal, "activities": Activity}


class WeeklySnapshot(Base):
    """The Overview figures of one ISO week as shown at the time, frozen.

    A provisional snapshot (taken on demand during the week) may be replaced;
    the final one, taken once the week has closed, never is.
    """

    __tablename__ = "weekly_snapshots"
    __table_args__ = (UniqueConstraint("agreement", "week", name="uq_weekly_snapshots_agreement_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agreement: Mapped[str] = mapped_column(String(255))
    week: Mapped[str] = mapped_column(String(8))  # ISO week, "2026-W48"
    final: Mapped[bool] = mapped_column(Boolean)
    frozen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    figures: Mapped[list] = mapped_column(JSON)


class AuditEntry(Base):
    """Who did what, when: agreement changes, syncs, imports, snapshots."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict | None] = mapped_column(JSON)


class AlertLedger(Base):
    """One alert to one recipient on one channel: claimed before it is sent, marked after.

    ``fingerprint`` (a hash of agreement, kind, commitment, subject, window, channel and recipient) is
    unique, so the database itself refuses a second claim of the same alert: a rerun, an overlapping cron
    run or a second server never send it twice. ``status``: sending (claimed), sent, failed (retried
    later at ``next_try_at``) or unknown (the run died while sending; not sent again).
    """

    __tablename__ = "alert_ledger"
    __table_args__ = (
        UniqueConstraint("fingerprint", name="uq_alert_ledger_fingerprint"),
        Index("ix_alert_ledger_lead", "lead_id"),
        Index("ix_alert_ledger_claimed_at", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    agreement: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))  # due_soon, breached, daily_queue, weekly_digest, test
    commitment: Mapped[str | None] = mapped_column(String(255))
    lead_id: Mapped[int | None] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(String(255))  # "lead 17", "team EMEA", "agreement"
    window: Mapped[str] = mapped_column(String(64))  # the handover instant, the local date, the ISO week
    channel: Mapped[str] = mapped_column(String(16))  # email, slack
    recipient: Mapped[str] = mapped_column(String(320))  # an address or a Slack label, never a webhook URL
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_try_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class Handover(Base):
    """One handover of a lead to sales (lifecycle issue 19): a lead recycled and re-qualified has several.

    A connector that knows a lead's handover history writes the whole set at once
    (:func:`data.upserts.replace_handovers`); ``seq`` numbers them by ``mql_at``.
    Connectors keep only histories of two or more (a lead handed over once is its
    lead row, as before); a lead with several reads as one row per handover (see
    :mod:`data.handovers`), and a single stored handover is ignored on read.
    The per-handover facts (first touch, touches, SQL, disposition) are optional:
    missing ones are derived on read from the lead's activities and its row.
    """

    __tablename__ = "handovers"
    __table_args__ = (
        UniqueConstraint("source", "lead_external_id", "seq", name="uq_handovers_source_lead_seq"),
        Index("ix_handovers_mql_at", "mql_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    lead_external_id: Mapped[str] = mapped_column(String(255))
    seq: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(255))  # the source's id of the handover, if any
    mql_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recycled: Mapped[bool | None] = mapped_column(Boolean)
    sql_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_touch_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    touches: Mapped[int | None] = mapped_column(Integer)
    disposition: Mapped[str | None] = mapped_column(String(16))
    disposition_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SlaFact(Base):
    """One handover row's clock for one commitment of one agreement version (see :mod:`data.facts`).

    Instants are epoch microseconds (UTC) as plain integers on every dialect: the figures compare them
    with ``as_of`` in SQL, and integers compare the same on SQLite, PostgreSQL and Citus. ``row_id`` is
    the handover row the analytics count (the lead's id, or ``-handovers.id`` for a repeat handover);
    ``lead_id`` the stored lead it belongs to.
    """

    __tablename__ = "sla_facts"
    __table_args__ = (
        # The key starts with the version and commitment, so a new version's rows are appended at the
        # end of the b-tree instead of landing between the stored ones; a refresh deletes by lead per
        # (agreement, version, commitment), through the same key. It contains the lead, Citus's
        # distribution column. The period index serves the figures.
        PrimaryKeyConstraint("agreement", "version", "commitment", "lead_id", "row_id"),
        Index("ix_sla_facts_period", "agreement", "version", "commitment", "mql_us"),
    )

    agreement: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    commitment: Mapped[str] = mapped_column(String(255))
    lead_id: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    row_id: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    metric: Mapped[str] = mapped_column(String(64))
    mql_us: Mapped[int] = mapped_column(BigInteger)  # the handover instant
    created_us: Mapped[int | None] = mapped_column(BigInteger)  # the lead exists from then on
    week_us: Mapped[int] = mapped_column(BigInteger)  # starts of its periods in the version's timezone
    month_us: Mapped[int] = mapped_column(BigInteger)
    quarter_us: Mapped[int] = mapped_column(BigInteger)
    stop_us: Mapped[int | None] = mapped_column(BigInteger)  # first touch / n-th touch / disposition
    in_time_us: Mapped[int | None] = mapped_column(BigInteger)  # the last instant the stop is in time
    taken_seconds: Mapped[float | None] = mapped_column(Float(53))  # business seconds handover -> stop
    touches: Mapped[int | None] = mapped_column(Integer)  # touches_within: touches inside the window
    first_touch_us: Mapped[int | None] = mapped_column(BigInteger)
    disposition: Mapped[str | None] = mapped_column(String(32))
    disposition_us: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str | None] = mapped_column(_text("leads", "channel"))
    team: Mapped[str | None] = mapped_column(_text("owners", "team"))
    segment: Mapped[str | None] = mapped_column(_text("leads", "segment"))
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
