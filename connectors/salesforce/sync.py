"""The Salesforce sync: cursor -> fetch -> map -> upsert -> advance cursor, resumable at every commit.

One call of :func:`sync` logs in, reads the org's daily API limit from
``/limits``, checks the configured fields against ``describe``, then syncs User,
Lead, Opportunity, Task and Event in that order. Every page is written in one
transaction holding its rows, its rejected records and the object's checkpoint
(or, on the last page, its new cursor), so a sync killed at any moment resumes
from its last commit: only the page after it is read again, and the unique key
(source, external_id) means nothing is ever duplicated.

Per object:

- **Full load** (first sync, or ``full=True``): Lead, Opportunity, Task and
  Event through a Bulk API 2.0 ``queryAll`` job (deleted records included,
  flagged), CSV result pages by ``Sforce-Locator``; checkpoint: the job id and
  the locator of the next page. User through REST. Cursor when done: the time
  the run started.
- **Incremental**: REST ``queryAll`` of ``SystemModstamp >= cursor - lookback``
  and ``<= the run's start``, ordered by ``SystemModstamp, Id``, paged by
  ``nextRecordsUrl``. Tie-safe: the checkpoint is the second of the last
  record committed and a resumed query starts ``>=`` that second, so records
  sharing it are read again rather than lost; every batch is de-duplicated on
  ``Id``. Then the ``deleted`` endpoint flags records deleted in the window
  (also those already purged from the recycle bin).

Deals and activities are linked to leads through ``Lead.ConvertedOpportunityId``
and ``Lead.ConvertedContactId`` (``WHERE ... IN`` queries per page); leads get
their Status history from ``LeadHistory``. Afterwards touches and first touches
of leads are recounted from the synced activities.

The client counts requests against the daily API limit; before the sync would
touch the reserve kept for the org's other integrations it stops cleanly (run
status "stopped"), everything committed stays, and the message says when to
continue.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pandas as pd
from sqlalchemy import Engine, bindparam, update

import settings as accord_settings
from connectors.salesforce import mapping
from connectors.salesforce.client import (
    BulkJobGoneError,
    SalesforceClient,
    SalesforceConfigError,
    SalesforceError,
    SalesforceLimitError,
)
from connectors.salesforce.settings import (
    BULK_OBJECTS,
    CONNECTOR,
    CURSOR_FIELD,
    DELETED_DAYS,
    OBJECTS,
    SOURCE,
    TABLE,
    SalesforceConfig,
    fields_for,
)
from data import journal, queries, record_links, syncs, upserts
from data.models import CANONICAL_MODELS

log = logging.getLogger("connectors.salesforce")

Progress = Callable[..., None]  # progress(stage, done, total, detail="")
TOUCHES = "lead_touches"  # the sync_state row that says leads' touches need recounting


@dataclass
class ObjectCounts:
    """What a sync did to one Salesforce object."""

    mode: str = ""  # "full" or "incremental"; "resumed " in front when it continued an interrupted run
    pages: int = 0
    rows: int = 0  # rows written (inserted + updated)
    inserted: int = 0
    updated: int = 0
    archived: int = 0  # rows written or flagged as deleted
    rejected: int = 0  # records kept aside in rejected_rows (new ones)


@dataclass
class SyncSummary:
    """The outcome of one :func:`sync`, as the CLI and the Data page show it."""

    run_id: int | None
    kind: str  # "full" when any object was (or continued to be) fully loaded, else "incremental"
    status: str  # "ok", "stopped" (daily API limit), "failed" or "interrupted"
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    objects: dict[str, ObjectCounts] = field(default_factory=dict)
    touches_updated: int = 0
    requests: int = 0
    retries: int = 0
    logins: int = 0
    daily_max: int | None = None
    daily_remaining: int | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def duration_seconds(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    @property
    def rejected(self) -> int:
        return sum(c.rejected for c in self.objects.values())

    def counts(self) -> dict:
        """The JSON-able counts stored in ``sync_runs.counts``."""
        return {
            "objects": {name: asdict(c) for name, c in self.objects.items()},
            "touches_updated": self.touches_updated,
            "requests": self.requests,
            "retries": self.retries,
            "logins": self.logins,
            "daily_api_max": self.daily_max,
            "daily_api_remaining": self.daily_remaining,
            "notes": list(self.notes),
        }

    def describe(self) -> str:
        """One paragraph for people: what was read, what was kept aside, the API budget, how long."""
        parts = []
        activities = 0
        for name, c in self.objects.items():
            if TABLE[name] == "activities":
                activities += c.rows
            else:
                parts.append(f"{c.rows:,} {TABLE[name]} ({c.mode})")
        if self.objects:
            parts.append(f"{activities:,} activities")
        text = (
            f"Salesforce {self.kind} sync {self.status} in {self.duration_seconds:.1f} s: "
            + (", ".join(parts) or "nothing read")
            + "."
        )
        archived = sum(c.archived for c in self.objects.values())
        if archived:
            text += f" {archived:,} deleted records flagged."
        if self.rejected:
            text += f" {self.rejected:,} records kept aside as unusable (see rejected rows on the Data page)."
        text += (
            f" {self.requests:,} requests ({self.retries:,} retried, {max(self.logins - 1, 0)} re-logins)."
        )
        if self.daily_max is not None:
            text += f" Daily API requests: {self.daily_remaining:,} of {self.daily_max:,} left."
        for note in self.notes:
            text += f" {note}"
        if self.error:
            text += f" Error: {self.error}"
        return text


@dataclass
class _Plan:
    """Where one object's sync stands; ``checkpoint()`` is what sync_state keeps between commits."""

    obj: str
    mode: str  # "bulk" or "rest"
    window_end: str  # ISO instant: the cursor once this object is done
    window_start: str | None = None  # REST: ISO instant (whole second) to read from, None for everything
    deleted_from: str | None = None  # REST incremental: where the deleted endpoint's window starts
    job: str | None = None  # Bulk: the query job
    locator: str | None = None  # Bulk: the next results page
    resumed: bool = False
    full: bool = False

    def checkpoint(self) -> dict:
        return {
            "mode": self.mode,
            "full": self.full,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "deleted_from": self.deleted_from,
            "job": self.job,
            "locator": self.locator,
        }

    @classmethod
    def from_checkpoint(cls, obj: str, saved: dict) -> _Plan:
        return cls(
            obj=obj,
            mode=saved["mode"],
            full=bool(saved.get("full")),
            window_start=saved.get("window_start"),
            window_end=saved["window_end"],
            deleted_from=saved.get("deleted_from"),
            job=saved.get("job"),
            locator=saved.get("locator"),
            resumed=True,
        )


def sync(
    engine: Engine,
    full: bool = False,
    progress: Progress | None = None,
    *,
    config: SalesforceConfig,
    now: Callable[[], dt.datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncSummary:
    """Sync Salesforce into the canonical tables; returns what was done (also recorded in ``sync_runs``).

    ``config`` carries the credentials and choices, passed in explicitly (callers build it with
    :meth:`SalesforceConfig.from_settings`; nothing here reads a setting). ``full=True`` re-reads
    every object; otherwise objects synced before are read incrementally. An
    interrupted sync is always continued from its checkpoints first.

    Raises :class:`~connectors.salesforce.client.SalesforceConfigError` for
    configuration to fix, :class:`~connectors.salesforce.client.SalesforceLimitError`
    when it stopped at the daily API limit, :class:`~connectors.salesforce.client.SalesforceError`
    for other problems; the run is recorded with that message either way, and
    everything committed before stays.
    """
    now = now or (lambda: dt.datetime.now(dt.UTC))
    report = progress or (lambda *a, **k: None)
    started = now()
    run_id = syncs.start_run(engine, CONNECTOR, "sync")
    summary = SyncSummary(run_id=run_id, kind="incremental", status="running", started_at=started)
    client = None
    with syncs.keep_alive(engine, run_id):
        try:
            plans = {obj: _plan(engine, obj, full, started, config) for obj in OBJECTS}
            summary.kind = "full" if any(p.full for p in plans.values()) else "incremental"
            syncs.beat_run(engine, run_id, kind=summary.kind)
            log.info(
                "Salesforce %s sync started against %s with client id %s",
                summary.kind,
                config.login_url,
                accord_settings.mask(config.client_id),
            )
            report("login", 0, 1, config.login_url or "")
            client = SalesforceClient(config, now=now, sleep=sleep)
            record_links.save_link_base(engine, CONNECTOR, {"instance_url": client.instance_url})
            top, left = client.read_limits()
            report("login", 1, 1, f"daily API requests: {left:,} of {top:,} left")
            lead_fields = _check_fields(client, config, summary)
            campaigns_readable = _campaigns_readable(client, config, summary)
            for obj, plan in plans.items():
                counts = ObjectCounts(
                    mode=("resumed " if plan.resumed else "") + ("full" if plan.full else "incremental")
                )
                summary.objects[obj] = counts
                _sync_object(
                    engine, client, plan, config, (lead_fields, campaigns_readable), summary, counts, report
                )
            report("touches", 0, 1, "counting activities per lead")
            summary.touches_updated = _update_touches(engine)
            report("touches", 1, 1, f"{summary.touches_updated:,} leads updated")
            summary.status = "ok"
        except BaseException as exc:
            summary.status = (
                "stopped"
                if isinstance(exc, SalesforceLimitError)
                else "interrupted"
                if isinstance(exc, KeyboardInterrupt)
                else "failed"
            )
            summary.error = _user_message(exc, config, client)
            raise
        finally:
            if client is not None:
                stats = client.stats
                summary.requests, summary.retries, summary.logins = (
                    stats.requests,
                    stats.retries,
                    stats.logins,
                )
                summary.daily_max = stats.daily_max
                summary.daily_remaining = client.daily_left
            summary.finished_at = now()
            syncs.finish_run(engine, run_id, summary.status, summary.counts(), summary.error)
            log.info("%s", summary.describe())
    return summary


def _iso(moment: dt.datetime) -> str:
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _second(value) -> str:
    """A SystemModstamp (any format Salesforce sends) as the SOQL literal of its whole second."""
    return pd.Timestamp(value).tz_convert("UTC").floor("s").strftime("%Y-%m-%dT%H:%M:%SZ")


def _plan(engine: Engine, obj: str, full: bool, started: dt.datetime, config: SalesforceConfig) -> _Plan:
    cursor, checkpoint = syncs.get_sync_state(engine, CONNECTOR, obj)
    # An interrupted run is continued; only --full overrides an interrupted incremental one.
    if checkpoint and not (full and not checkpoint.get("full")):
        return _Plan.from_checkpoint(obj, checkpoint)
    end = _iso(started)
    if full or cursor is None:
        return _Plan(obj=obj, mode="bulk" if obj in BULK_OBJECTS else "rest", window_end=end, full=True)
    start = _iso(pd.Timestamp(cursor).to_pydatetime() - dt.timedelta(seconds=config.lookback_seconds))
    return _Plan(obj=obj, mode="rest", window_start=start, window_end=end, deleted_from=start)


def _check_fields(client: SalesforceClient, config: SalesforceConfig, summary: SyncSummary) -> frozenset[str]:
    """The Lead fields the org has; raises SalesforceConfigError for a configured field it lacks."""
    choices = config.fields
    user_fields = client.describe_fields("User")
    if choices.team not in user_fields:
        raise SalesforceConfigError(
            f"SALESFORCE_TEAM_FIELD names User.{choices.team}, which this org does not have or the run-as "
            "user cannot read: set it to a User field that holds the team (default Department)"
        )
    lead_fields = client.describe_fields("Lead")
    if choices.mql_date not in lead_fields:
        if "SALESFORCE_MQL_DATE_FIELD" in choices.explicit:
            raise SalesforceConfigError(
                f"SALESFORCE_MQL_DATE_FIELD names Lead.{choices.mql_date}, which this org does not have or the "
                "run-as user cannot read: create the field, grant read access to it, or unset the setting to "
                "date handovers by Status history"
            )
        summary.notes.append(
            f"Lead has no {choices.mql_date} field: handovers are dated by the first Status change into "
            f"{', '.join(choices.mql_statuses)} (LeadHistory)."
        )
    reason = choices.rejection_reason
    if reason and reason not in lead_fields and "SALESFORCE_REJECTION_REASON_FIELD" in choices.explicit:
        raise SalesforceConfigError(
            f"SALESFORCE_REJECTION_REASON_FIELD names Lead.{reason}, which this org does not have or the "
            "run-as user cannot read: fix the setting or grant read access to the field"
        )
    return lead_fields


def _campaigns_readable(client: SalesforceClient, config: SalesforceConfig, summary: SyncSummary) -> bool:
    """Whether leads' campaigns can be read (CampaignMember); without access they are left empty, noted."""
    if not config.read_campaigns:
        return False
    try:
        client.describe_fields("CampaignMember")
    except SalesforceLimitError:
        raise
    except SalesforceError:
        summary.notes.append(
            "The run-as user cannot read CampaignMember: leads are stored without their campaign."
        )
        return False
    return True


def _sync_object(engine, client, plan: _Plan, config, org, summary, counts, report) -> None:
    """Sync one object from where ``plan`` stands to its end; ``org``: (Lead fields, campaigns readable)."""
    lead_fields = org[0]
    obj = plan.obj
    names = fields_for(obj, config.fields, lead_fields if obj == "Lead" else None)
    select = f"SELECT {', '.join(names)} FROM {obj}"
    report(obj, counts.rows, None, "starting")
    if plan.mode == "bulk":
        while True:
            if plan.job is None:
                plan.job = client.bulk_start(obj, select)
                plan.locator = None
                syncs.set_sync_state(engine, CONNECTOR, obj, checkpoint=plan.checkpoint())
            try:
                if plan.locator is None:
                    client.bulk_wait(obj, plan.job)
                page = client.bulk_page(obj, plan.job, plan.locator)
            except BulkJobGoneError:  # results expire after 7 days: start the job again
                plan.job = None
                continue
            plan.locator = page.next
            _write(engine, client, plan, page.records, config, org, summary, counts, done=page.next is None)
            report(obj, counts.rows, None, f"{counts.pages:,} pages (Bulk API)")
            if page.next is None:
                return
    where = [f"{CURSOR_FIELD} <= {plan.window_end}"]
    if plan.window_start is not None:
        where.insert(0, f"{CURSOR_FIELD} >= {plan.window_start}")
    soql = f"{select} WHERE {' AND '.join(where)} ORDER BY {CURSOR_FIELD}, Id"
    page = client.query(soql, f"querying {obj}")
    while True:
        if page.records:
            # The next query, should this one be cut short, starts at the second of the last record here.
            plan.window_start = _second(page.records[-1][CURSOR_FIELD])
        done = page.next is None
        _write(engine, client, plan, page.records, config, org, summary, counts, done=done)
        report(obj, counts.rows, None, f"{counts.pages:,} pages")
        if done:
            return
        page = client.query_more(page.next, f"querying {obj}")


def _in_chunks(ids: list[str], size: int):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _quoted(ids: list[str]) -> str:
    return ", ".join("'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in ids)


def _lookup(client: SalesforceClient, soql: str, ids: list[str], size: int, what: str) -> list[dict]:
    """Records of ``soql`` (with a ``{ids}`` placeholder) for ``ids``, ``size`` ids a query."""
    out: list[dict] = []
    for chunk in _in_chunks(ids, size):
        out.extend(client.query_all(soql.format(ids=_quoted(chunk)), what))
    return out


def _write(engine, client, plan: _Plan, records, config, org, summary, counts, done: bool) -> None:
    """Map one page and commit it with the object's checkpoint (or cursor, when ``done``)."""
    lead_fields, campaigns_readable = org
    obj = plan.obj
    records = mapping.latest_per_id(records)
    size = config.ids_per_query
    flagged: list[str] = []
    links: list[tuple[str, str]] = []
    if obj == "User":
        mapped = mapping.owners_frame(records, config.fields.team)
    elif obj == "Lead":
        choices = config.fields
        fallback = choices.mql_date not in lead_fields
        wanted = set(choices.accepted_statuses) | set(choices.rejected_statuses)
        need = [
            str(r["Id"])
            for r in records
            if r.get("Id")
            and (fallback or r.get("Status") in wanted or str(r.get("IsConverted")).lower() == "true")
        ]
        history = _lookup(
            client,
            "SELECT LeadId, Field, OldValue, NewValue, CreatedDate FROM LeadHistory "
            "WHERE Field = 'Status' AND LeadId IN ({ids}) ORDER BY CreatedDate",
            need,
            size,
            "reading LeadHistory",
        )
        members = []
        if campaigns_readable:
            members = _lookup(
                client,
                "SELECT LeadId, CreatedDate, Campaign.Name FROM CampaignMember WHERE LeadId IN ({ids})",
                [str(r["Id"]) for r in records if r.get("Id")],
                size,
                "reading campaign members",
            )
        campaigns = mapping.first_campaigns(members)
        mapped = mapping.leads_frame(
            records, mapping.status_changes(history), choices, lead_fields, campaigns
        )
        links = [
            (str(r["ConvertedOpportunityId"]), str(r["Id"]))
            for r in records
            if r.get("Id") and r.get("ConvertedOpportunityId")
        ]
    elif obj == "Opportunity":
        ids = [str(r["Id"]) for r in records if r.get("Id")]
        found = _lookup(
            client,
            "SELECT Id, ConvertedOpportunityId FROM Lead WHERE ConvertedOpportunityId IN ({ids})",
            ids,
            size,
            "linking opportunities to leads",
        )
        lead_of = {
            str(f["ConvertedOpportunityId"]): str(f["Id"]) for f in found if f.get("ConvertedOpportunityId")
        }
        mapped = mapping.deals_frame(records, lead_of)
    else:
        contacts = mapping.contact_ids(records)
        found = _lookup(
            client,
            "SELECT Id, ConvertedContactId FROM Lead WHERE ConvertedContactId IN ({ids})",
            contacts,
            size,
            f"linking {obj} records to leads",
        )
        lead_of = {str(f["ConvertedContactId"]): str(f["Id"]) for f in found if f.get("ConvertedContactId")}
        mapped = mapping.activities_frame(records, obj, lead_of)
    if done and plan.deleted_from is not None and obj != "User":
        start = max(
            pd.Timestamp(plan.deleted_from).to_pydatetime(),
            pd.Timestamp(plan.window_end).to_pydatetime() - dt.timedelta(days=DELETED_DAYS),
        )
        flagged = client.deleted_ids(obj, start, pd.Timestamp(plan.window_end).to_pydatetime())
    table = TABLE[obj]
    with engine.begin() as conn:
        if not mapped.frame.empty:
            result = upserts.upsert(conn, table, mapped.frame)
            counts.rows += result.rows
            counts.inserted += result.inserted
            counts.updated += result.updated
            counts.archived += (
                int(mapped.frame["archived"].fillna(False).sum()) if "archived" in mapped.frame else 0
            )
        counts.rejected += journal.add_rejected_rows(conn, mapped.rejected, run_id=summary.run_id)
        if flagged:
            counts.archived += _flag_deleted(conn, table, flagged)
        if links:  # a lead converted into an opportunity already stored: link it
            t = CANONICAL_MODELS["deals"].__table__
            conn.execute(
                update(t)
                .where(t.c.source == SOURCE, t.c.external_id == bindparam("opp"))
                .values(lead_external_id=bindparam("lead")),
                [{"opp": o, "lead": lead} for o, lead in links],
            )
        if obj in ("Lead", "Task", "Event") and not mapped.frame.empty:
            syncs.set_sync_state(conn, CONNECTOR, TOUCHES, checkpoint={"pending": True})
        if done:
            syncs.set_sync_state(conn, CONNECTOR, obj, cursor=plan.window_end, checkpoint=None)
        else:
            syncs.set_sync_state(conn, CONNECTOR, obj, checkpoint=plan.checkpoint())
    counts.pages += 1
    if mapped.rejected:
        log.warning(
            "%d %s records kept aside as unusable (first: %s)",
            len(mapped.rejected),
            obj,
            mapped.rejected[0]["reasons"][0],
        )


def _flag_deleted(conn, table: str, ids: list[str]) -> int:
    """Flag stored rows of ``ids`` as deleted (archived); rows never stored are not invented. Returns rows."""
    t = CANONICAL_MODELS[table].__table__
    flagged = 0
    for chunk in _in_chunks(ids, 500):
        result = conn.execute(
            update(t)
            .where(t.c.source == SOURCE, t.c.external_id.in_(chunk), t.c.archived.is_not(True))
            .values(archived=True)
        )
        flagged += result.rowcount or 0
    return flagged


def _update_touches(engine: Engine) -> int:
    """Recount touches and first touches when leads or activities were written; rows changed."""
    _, pending = syncs.get_sync_state(engine, CONNECTOR, TOUCHES)
    if not (pending or {}).get("pending"):
        return 0
    leads = queries.read_leads(engine, source=SOURCE)
    activities = queries.read_activities(engine, source=SOURCE)
    updates = mapping.touch_updates(leads, activities)
    with engine.begin() as conn:
        if not updates.empty:
            upserts.upsert_leads(conn, updates)
        syncs.set_sync_state(conn, CONNECTOR, TOUCHES, checkpoint=None)
    return len(updates)


def _user_message(exc: BaseException, config: SalesforceConfig, client: SalesforceClient | None) -> str:
    if isinstance(exc, SalesforceError | accord_settings.SettingError):
        text = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        text = "interrupted; the next sync continues from the last saved page"
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    if client is not None:
        text = client.scrub(text)
    elif config.client_secret:
        text = text.replace(config.client_secret, "***")
    return text[:2000]
