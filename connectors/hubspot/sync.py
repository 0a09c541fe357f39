"""The HubSpot sync loop: cursor -> fetch -> map -> upsert -> advance cursor, resumable at every commit.

One call of :func:`sync` reads owners and deal pipelines, then contacts, deals,
calls, emails, meetings and tasks side by side (one thread per object, all
paced by the same client), while the calling thread maps and writes what they
fetched. Each write is one transaction holding the rows, the rejected records
and the object's checkpoint (or, when the object is complete, its new cursor),
so a sync killed at any moment resumes from its last commit: nothing is lost,
only what was fetched after the last commit is read again, and the unique key
(source, external_id) means nothing is ever duplicated.

Per object:

- **Full load** (first sync, or ``full=True``): the list endpoint, 100 records a
  page, then the same list with ``archived=true`` (archived records are kept
  and flagged); deals and activities come with their contacts
  (``associations=contacts``). Checkpoint: the phase and the paging ``after``
  of the next page. Cursor when done: the time the full load started.
- **Incremental**: search on the cursor property (``lastmodifieddate`` for
  contacts, ``hs_lastmodifieddate`` otherwise) in the window
  [cursor - lookback, now], sorted by ``hs_object_id``. Every page is a new query
  ``hs_object_id > last id seen`` (keyset paging), so the search API's
  10,000-result cap never applies, however many records changed, and the
  checkpoint is just the window and the last id. Searched deals and activities
  get their contacts from v4 batch association reads (100 ids a request).
  Search returns no archived records, so the archived list is read again
  afterwards. Cursor when done: the window's end.

After the objects, touches and first touches of leads are recomputed from the
synced activities (:func:`connectors.hubspot.mapping.touch_updates`) whenever
contacts or activities were written since the last recount (a flag in
``sync_state``, object ``lead_touches``, committed with those rows).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import pandas as pd
from sqlalchemy import Engine

import settings as accord_settings
from connectors.hubspot import mapping
from connectors.hubspot.client import HISTORY_BATCH, HubSpotAuthError, HubSpotClient, HubSpotError
from connectors.hubspot.settings import (
    ACTIVITY_OBJECTS,
    CONNECTOR,
    CRM_OBJECTS,
    CURSOR_PROPERTY,
    SOURCE,
    TABLE,
    HubSpotConfig,
    properties_for,
)
from data import journal, queries, record_links, syncs, upserts

log = logging.getLogger("connectors.hubspot")

Progress = Callable[..., None]  # progress(stage, done, total, detail="")
TOUCHES = "lead_touches"  # the sync_state row that says leads' touches need recounting
# The sync_state row whose cursor says until when every contact's handovers were rebuilt from its history
# (set by a complete full read of contacts, carried forward by the incremental runs after it).
HISTORY = "contact_history"
HELD_PAGES = (
    50  # contact pages held back at most while too few of their contacts want history for a batch read
)


@dataclass
class ObjectCounts:
    """What a sync did to one HubSpot object."""

    mode: str = ""  # "full", "incremental"; "resumed " in front when it continued an interrupted run
    pages: int = 0
    rows: int = 0  # rows written (inserted + updated)
    inserted: int = 0
    updated: int = 0
    archived: int = 0  # rows written with archived=True
    rejected: int = 0  # records kept aside in rejected_rows (new ones)
    merged: int = 0  # contacts: stored leads folded into the contact they were merged into
    handovers: int = 0  # contacts: handovers rebuilt from lifecycle and lead status history
    relinked: int = 0  # deals: associations re-read that moved the deal to another contact


@dataclass
class SyncSummary:
    """The outcome of one :func:`sync`, as the CLI and the Data page show it."""

    run_id: int | None
    kind: str  # "full" when any object was (or continued to be) fully loaded, else "incremental"
    status: str  # "ok" or "failed"
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    owners: int = 0
    owners_rejected: int = 0  # owners kept aside in rejected_rows (new ones)
    objects: dict[str, ObjectCounts] = field(default_factory=dict)
    touches_updated: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0  # summed over the parallel fetchers
    error: str | None = None

    @property
    def duration_seconds(self) -> float:
        end = self.finished_at or dt.datetime.now(dt.UTC)
        return (end - self.started_at).total_seconds()

    @property
    def rejected(self) -> int:
        return self.owners_rejected + sum(c.rejected for c in self.objects.values())

    def counts(self) -> dict:
        """The JSON-able counts stored in ``sync_runs.counts``."""
        return {
            "owners": self.owners,
            "owners_rejected": self.owners_rejected,
            "objects": {name: asdict(c) for name, c in self.objects.items()},
            "touches_updated": self.touches_updated,
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "waited_seconds": round(self.waited_seconds, 1),
        }

    def describe(self) -> str:
        """One paragraph for people: what was read, what was kept aside, how long it took."""
        parts = [f"{self.owners:,} owners"]
        activities = 0
        for name, c in self.objects.items():
            if name in ACTIVITY_OBJECTS:
                activities += c.rows
            else:
                parts.append(f"{c.rows:,} {name} ({c.mode})")
        parts.append(f"{activities:,} activities")
        text = (
            f"HubSpot {self.kind} sync {self.status} in {self.duration_seconds:.1f} s: "
            + ", ".join(parts)
            + "."
        )
        archived = sum(c.archived for c in self.objects.values())
        if archived:
            text += f" {archived:,} archived records flagged."
        if self.rejected:
            text += f" {self.rejected:,} records kept aside as unusable (see rejected rows on the Data page)."
        text += (
            f" {self.requests:,} requests ({self.retries:,} retried, {self.rate_limited:,} rate-limited),"
            f" {self.waited_seconds:.1f} s of waiting for rate limits (summed over the parallel fetchers)."
        )
        if self.error:
            text += f" Error: {self.error}"
        return text


@dataclass
class _Plan:
    """Where one object's sync stands; ``checkpoint()`` is what sync_state keeps between commits."""

    obj: str
    mode: str  # "full" or "search"
    phase: str  # "active", "archived" (full) or "search", "archived" (incremental)
    window_end: int  # epoch ms: the cursor once this object is done
    window_start: int | None = None  # epoch ms, search only
    after: str | None = None  # list paging cursor of the next page
    last_id: str | None = None  # search: the largest id already read
    resumed: bool = False
    # contacts, full: epoch ms; a contact not modified since then keeps the handovers stored for it
    history_since: int | None = None

    def checkpoint(self) -> dict:
        return {
            "mode": self.mode,
            "phase": self.phase,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "after": self.after,
            "last_id": self.last_id,
            "history_since": self.history_since,
        }

    @classmethod
    def from_checkpoint(cls, obj: str, saved: dict) -> _Plan:
        return cls(
            obj=obj,
            mode=saved["mode"],
            phase=saved["phase"],
            window_end=int(saved["window_end"]),
            window_start=None if saved.get("window_start") is None else int(saved["window_start"]),
            after=saved.get("after"),
            last_id=saved.get("last_id"),
            resumed=True,
            history_since=saved.get("history_since"),
        )


@dataclass
class _Batch:
    obj: str
    records: list[dict]
    state: dict  # the plan's checkpoint once these records are committed
    done: bool  # the object is complete once these records are committed


@dataclass
class _Failure:
    error: BaseException


def sync(
    engine: Engine,
    full: bool = False,
    progress: Progress | None = None,
    *,
    config: HubSpotConfig,
    now: Callable[[], dt.datetime] | None = None,
    associations: bool = False,
) -> SyncSummary:
    """Sync HubSpot into the canonical tables; returns what was done (also recorded in ``sync_runs``).

    ``config`` holds the token, address and limits; the callers (``cli.py sync
    hubspot``, the Data page) build it with :meth:`HubSpotConfig.from_settings`.
    ``full=True`` re-reads every object through the list endpoints; otherwise
    objects synced before are read incrementally. An interrupted sync is
    always continued from its checkpoints first. An incremental run re-reads
    the contacts of open deals and of deals created since the first day of the
    previous month (an association moved in HubSpot does not change the deal's
    modified date); ``associations=True`` re-reads those of every deal.

    Raises :class:`~connectors.hubspot.client.HubSpotAuthError` for a wrong
    token or a missing scope, :class:`~connectors.hubspot.client.HubSpotError`
    for other problems the user can act on; the run is recorded as failed with
    that message either way, and everything committed before stays.
    """
    now = now or (lambda: dt.datetime.now(dt.UTC))
    report = _Reporter(progress)
    started = now()
    # Claim the connector before reading the checkpoints: a second sync (cron while someone clicks
    # "Sync now") is refused with RunBusyError instead of continuing the same checkpoints twice.
    run_id = syncs.start_run(engine, CONNECTOR, "sync")
    try:
        plans = {obj: _plan(engine, obj, full, started, config) for obj in CRM_OBJECTS}
        kind = "full" if any(p.mode == "full" for p in plans.values()) else "incremental"
        syncs.beat_run(engine, run_id, kind=kind)
    except BaseException as exc:
        syncs.finish_run(engine, run_id, "failed", error=_user_message(exc, config.token))
        raise
    summary = SyncSummary(run_id=run_id, kind=kind, status="running", started_at=started)
    log.info(
        "HubSpot %s sync started against %s with token %s",
        kind,
        config.base_url,
        accord_settings.mask(config.token),
    )
    with syncs.keep_alive(engine, run_id):  # tells later runs this one is alive
        stop = threading.Event()
        client = None
        try:
            client = HubSpotClient(config, on_wait=report.waiting, stop=stop)
            summary.owners = _sync_owners(engine, client, report, summary)
            _save_link_base(engine, client)
            report("pipelines", 0, 1)
            stages = mapping.stage_index(client.pipelines("deals"))
            report("pipelines", 1, 1)
            _sync_objects(engine, client, plans, stages, config, summary, report, stop)
            stop.clear()  # the fetchers are done; the client serves the association reads below
            if associations or plans["deals"].mode != "full":
                report("associations", 0, 1, "re-reading deals' contacts")
                summary.objects["deals"].relinked = _reconcile_associations(
                    engine, client, started, every=associations
                )
                report("associations", 1, 1, f"{summary.objects['deals'].relinked:,} deals moved")
            report("touches", 0, 1, "counting activities per lead")
            summary.touches_updated = _update_touches(engine)
            report("touches", 1, 1, f"{summary.touches_updated:,} leads updated")
            summary.status = "ok"
        except BaseException as exc:
            stop.set()
            summary.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            summary.error = _user_message(exc, config.token)
            raise
        finally:
            if client is not None:
                stats = client.stats
                summary.requests, summary.retries = stats.requests, stats.retries
                summary.rate_limited, summary.waited_seconds = stats.rate_limited, stats.waited_seconds
            summary.finished_at = now()
            syncs.finish_run(engine, summary.run_id, summary.status, summary.counts(), summary.error)
            log.info("%s", summary.describe())
    return summary


def _save_link_base(engine: Engine, client: HubSpotClient) -> None:
    """Store the account's portal id and UI domain, which links to its records need (a refusal is logged)."""
    try:
        details = client.account_details()
    except HubSpotAuthError as exc:
        if exc.status != 403:
            raise
        log.warning("HubSpot refused the account details (403): records are shown without links to HubSpot")
        return
    portal, domain = details.get("portalId"), details.get("uiDomain")
    if portal and domain:
        record_links.save_link_base(engine, CONNECTOR, {"portal_id": portal, "ui_domain": domain})


def _plan(engine: Engine, obj: str, full: bool, started: dt.datetime, config: HubSpotConfig) -> _Plan:
    cursor, checkpoint = syncs.get_sync_state(engine, CONNECTOR, obj)
    # An interrupted run is continued; only --full overrides an interrupted incremental one.
    if checkpoint and not (full and checkpoint.get("mode") != "full"):
        return _Plan.from_checkpoint(obj, checkpoint)
    end = _epoch_ms(started)
    if full or cursor is None:
        known, _ = syncs.get_sync_state(engine, CONNECTOR, HISTORY) if obj == "contacts" else (None, None)
        # A contact's lifecycle or lead status change moves its modified date: those not modified since
        # their history was last read need not be read again (a margin of lookback_seconds, as search has).
        since = None if known is None else int(known) - int(config.lookback_seconds * 1000)
        return _Plan(obj=obj, mode="full", phase="active", window_end=end, history_since=since)
    start = int(cursor) - int(config.lookback_seconds * 1000)
    return _Plan(obj=obj, mode="search", phase="search", window_start=start, window_end=end)


def _sync_owners(engine: Engine, client: HubSpotClient, report: _Reporter, summary: SyncSummary) -> int:
    """Read every owner, active and archived; store them (and the unusable ones in rejected_rows). Returns rows."""
    records: list[dict] = []
    for archived in (False, True):
        after = None
        while True:
            page = client.owners_page(after=after, archived=archived)
            records.extend(page.results)
            report("owners", len(records), None)
            if page.after is None:
                break
            after = page.after
    mapped = mapping.owners_frame(records)
    with engine.begin() as conn:
        if not mapped.frame.empty:
            upserts.upsert_owners(conn, mapped.frame)
        summary.owners_rejected += journal.add_rejected_rows(conn, mapped.rejected, run_id=summary.run_id)
    if mapped.rejected:
        log.warning(
            "%d owners kept aside as unusable (first: %s)",
            len(mapped.rejected),
            mapped.rejected[0]["reasons"][0],
        )
    return len(mapped.frame)


def _sync_objects(engine, client, plans, stages, config, summary, report, stop) -> None:
    """Fetch every object in its own thread; map and write here, one transaction per flush."""
    inbox: queue.Queue = queue.Queue(maxsize=64)
    for obj, plan in plans.items():
        mode = "full" if plan.mode == "full" else "incremental"
        summary.objects[obj] = ObjectCounts(mode=("resumed " if plan.resumed else "") + mode)
    running = set(plans)
    pending: dict[str, list[_Batch]] = {obj: [] for obj in plans}
    buffered = dict.fromkeys(plans, 0)
    report.objects(len(plans))

    last_flush = [time.monotonic()]

    def flush(obj: str) -> None:
        batches = pending[obj]
        if not batches:
            return
        counts = summary.objects[obj]
        _write(engine, obj, batches, plans[obj], stages, config, summary.run_id, counts)
        pending[obj] = []
        buffered[obj] = 0
        last_flush[0] = time.monotonic()

    with ThreadPoolExecutor(max_workers=len(plans), thread_name_prefix="hubspot") as pool:
        for plan in plans.values():
            pool.submit(_fetch, client, plan, config, inbox, stop)
        try:
            while running:
                item = inbox.get()
                if isinstance(item, _Failure):
                    raise item.error
                pending[item.obj].append(item)
                buffered[item.obj] += len(item.records)
                counts = summary.objects[item.obj]
                counts.pages += 1
                report.fetched(item.obj, len(item.records))
                if item.done:
                    running.discard(item.obj)
                    flush(item.obj)
                    report.finished(item.obj)
                elif buffered[item.obj] >= config.flush_rows:
                    flush(item.obj)
                elif inbox.empty() and time.monotonic() - last_flush[0] >= config.flush_seconds:
                    # Caught up with the fetchers: commit what is waiting, at most once per
                    # flush_seconds, so a crash costs little re-reading and commits stay cheap.
                    for name in plans:
                        flush(name)
        finally:
            stop.set()
            # Unblock fetchers waiting to put into a full inbox.
            while True:
                try:
                    inbox.get_nowait()
                except queue.Empty:
                    break


def _fetch(client: HubSpotClient, plan: _Plan, config: HubSpotConfig, inbox: queue.Queue, stop) -> None:
    """Read one object from where ``plan`` stands to its end, putting each page into ``inbox``."""
    try:
        properties = properties_for(plan.obj, config.properties)
        linked = () if plan.obj == "contacts" else ("contacts",)
        # History in the list itself (pages of 50) costs one request per 100 contacts; batch reads of 50
        # cost one per 50 contacts that need it. The last page's share of those decides the next page's way.
        in_list = False
        # Pages whose contacts still want their history wait here until 50 of them do: one full batch read.
        held: list[_Batch] = []
        wanting = 0

        def release() -> None:
            nonlocal wanting
            if held:
                _attach_history(client, [r for b in held for r in b.records], plan, config)
            for batch in held:
                _put(inbox, batch, stop)
            held.clear()
            wanting = 0

        while not stop.is_set():
            done = False
            was = plan.phase
            with_history = False
            if plan.phase in ("active", "archived"):
                with_history = plan.obj == "contacts" and plan.phase == "active" and in_list
                page = client.list_page(
                    plan.obj,
                    properties,
                    after=plan.after,
                    archived=plan.phase == "archived",
                    associations=linked,
                    history=mapping.HISTORY_PROPERTIES if with_history else (),
                )
                records = page.results
                if plan.obj == "contacts" and records and plan.phase == "active":
                    in_list = sum(_wants_history(r, plan, config) for r in records) / len(records) > 0.5
                if page.after is not None:
                    plan.after = page.after
                elif plan.phase == "active":
                    plan.phase, plan.after = "archived", None
                else:
                    plan.after, done = None, True
            else:
                cursor = CURSOR_PROPERTY[plan.obj]
                filters = [
                    {"propertyName": cursor, "operator": "GTE", "value": str(plan.window_start)},
                    {"propertyName": cursor, "operator": "LTE", "value": str(plan.window_end)},
                ]
                if plan.last_id is not None:
                    filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": plan.last_id})
                page = client.search_page(plan.obj, filters, properties)
                records = page.results
                if linked and records:
                    _attach_contacts(client, plan.obj, records)
                if records:
                    plan.last_id = str(records[-1]["id"])
                if page.after is None or not records:
                    plan.phase, plan.after = "archived", None
            batch = _Batch(plan.obj, records, plan.checkpoint(), done)
            if plan.obj == "contacts" and was in ("active", "search") and not with_history:
                held.append(batch)
                wanting += sum(not r.get("archived") and _wants_history(r, plan, config) for r in records)
                if wanting >= HISTORY_BATCH or len(held) >= HELD_PAGES or plan.phase != was:
                    release()
            else:
                release()
                _put(inbox, batch, stop)
            if done:
                return
    except BaseException as exc:  # handed to the writer, which raises it
        _put(inbox, _Failure(exc), stop)


def _attach_contacts(client: HubSpotClient, obj: str, records: list[dict]) -> None:
    """Give searched records the ``associations`` block list pages have (search returns none)."""
    linked = client.associated_ids(obj, "contacts", [str(r["id"]) for r in records])
    for record in records:
        ids = linked.get(str(record["id"]), [])
        record["associations"] = {
            "contacts": {"results": [{"id": i, "type": f"{obj[:-1]}_to_contact"} for i in ids]}
        }


def _wants_history(record: dict, plan: _Plan, config: HubSpotConfig) -> bool:
    """Whether the sync must read this contact's lifecycle history: it can have been handed over, and it
    was modified since its history was last read (always, when that is not known)."""
    if not mapping.needs_history(record, config.properties):
        return False
    if plan.history_since is None:
        return True
    modified = (record.get("properties") or {}).get(CURSOR_PROPERTY["contacts"]) or record.get("updatedAt")
    try:  # ISO 8601 as HubSpot sends it; a thousand times faster than pandas' parser, record by record
        when = dt.datetime.fromisoformat(str(modified))
    except ValueError:
        return True  # unreadable: read its history rather than trust a stale one
    when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when
    return when.timestamp() * 1000 >= plan.history_since


def _attach_history(client: HubSpotClient, records: list[dict], plan: _Plan, config: HubSpotConfig) -> None:
    """Give the contacts that want it (:func:`_wants_history`) their lifecycle stage and lead status history.

    Batch reads of 50 (search cannot return history); contacts never handed over, and those whose
    stored handovers are still current, cost nothing.
    """
    ids = [str(r["id"]) for r in records if not r.get("archived") and _wants_history(r, plan, config)]
    if not ids:
        return
    found = {
        str(r["id"]): r.get("propertiesWithHistory") or {}
        for r in client.read_history("contacts", ids, ["hs_object_id"], mapping.HISTORY_PROPERTIES)
    }
    for record in records:
        if str(record["id"]) in found:
            record["propertiesWithHistory"] = found[str(record["id"])]


def _reconcile_associations(engine: Engine, client: HubSpotClient, started: dt.datetime, every: bool) -> int:
    """Re-read the contacts of open and recent deals (all with ``every``); returns deals moved to another lead.

    Recent: created since the first day of the month before ``started`` (UTC), so the current and the
    last period of a monthly agreement are right. A deal's lead is its associated contact with the
    smallest id, as in :func:`connectors.hubspot.mapping.deals_frame`; a moved deal takes its new
    lead's channel, so its pipeline counts for that channel.
    """
    deals = queries.read_deals(
        engine,
        source=SOURCE,
        columns=[
            "source",
            "external_id",
            "created_at",
            "is_closed",
            "lead_external_id",
            "channel",
            "archived",
        ],
        per_handover=False,
    )
    deals = deals[~deals["archived"].fillna(False).astype(bool)]
    if not every:
        month = pd.Timestamp(started).tz_convert("UTC").normalize().replace(day=1)
        recent = deals["created_at"] >= month - pd.offsets.MonthBegin(1)
        deals = deals[~deals["is_closed"].fillna(False).astype(bool) | recent.fillna(False)]
    if deals.empty:
        return 0
    linked = client.associated_ids("deals", "contacts", deals["external_id"].astype(str).tolist())
    new_lead = deals["external_id"].map(lambda d: mapping.first_of(linked.get(str(d), []))).astype("str")
    leads = queries.read_leads(engine, source=SOURCE, columns=["external_id", "channel"], per_handover=False)
    # The pipeline follows the deal to its lead: the deal takes its lead's channel (when the lead has one).
    channel = new_lead.map(leads.set_index("external_id")["channel"]).astype("str")
    channel = channel.fillna(deals["channel"].astype("str"))
    moved = (new_lead.fillna("") != deals["lead_external_id"].fillna("")).to_numpy(bool)
    changed = moved | (channel.fillna("") != deals["channel"].fillna("")).to_numpy(bool)
    if not changed.any():
        return 0
    update = pd.DataFrame(
        {
            "source": deals["source"],
            "external_id": deals["external_id"],
            "lead_external_id": new_lead,
            "channel": channel,
        }
    )[changed]
    with engine.begin() as conn:
        upserts.upsert_deals(conn, update)
    return int(moved.sum())


def _put(inbox: queue.Queue, item, stop: threading.Event) -> None:
    while True:
        try:
            inbox.put(item, timeout=0.2)
            return
        except queue.Full:
            if stop.is_set():  # the writer is gone
                return


def _write(engine, obj, batches, plan, stages, config, run_id, counts: ObjectCounts) -> None:
    records = [r for b in batches for r in b.records]
    if obj == "contacts":
        mapped = mapping.leads_frame(records, config.properties)
    elif obj == "deals":
        mapped = mapping.deals_frame(records, stages)
    else:
        mapped = mapping.activities_frame(records, obj, ACTIVITY_OBJECTS[obj])
    last = batches[-1]
    with engine.begin() as conn:
        if not mapped.frame.empty:
            result = upserts.upsert(conn, TABLE[obj], mapped.frame)
            counts.rows += result.rows
            counts.inserted += result.inserted
            counts.updated += result.updated
            counts.archived += int(mapped.frame["archived"].fillna(False).sum())
        if obj == "contacts":
            # A merge leaves one lead; then each contact read with history gets its handovers rebuilt.
            counts.merged += upserts.merge_leads(conn, SOURCE, mapping.merged_ids(records))
            read = [str(r["id"]) for r in records if "propertiesWithHistory" in r]
            if read:
                handovers = mapping.handovers_frame(records, config.properties)
                # Only histories of two or more are kept: a lead handed over once is its lead row.
                several = handovers.groupby("lead_external_id")["mql_at"].transform("size") > 1
                keys = pd.DataFrame({"source": SOURCE, "lead_external_id": read})
                counts.handovers += upserts.replace_handovers(conn, handovers[several], leads=keys)
        counts.rejected += journal.add_rejected_rows(conn, mapped.rejected, run_id=run_id)
        if obj != "deals" and not mapped.frame.empty:
            # Leads' touches must be recounted; kept in the database so a crash does not forget it.
            syncs.set_sync_state(conn, CONNECTOR, TOUCHES, checkpoint={"pending": True})
        if last.done:
            syncs.set_sync_state(conn, CONNECTOR, obj, cursor=str(last.state["window_end"]), checkpoint=None)
            # Every contact that wanted its history has had it read: after a full read, or an incremental
            # one that follows runs that kept this row (a database synced before handovers has none yet).
            if obj == "contacts" and (
                plan.mode == "full" or syncs.get_sync_state(conn, CONNECTOR, HISTORY)[0] is not None
            ):
                syncs.set_sync_state(conn, CONNECTOR, HISTORY, cursor=str(last.state["window_end"]))
        else:
            syncs.set_sync_state(conn, CONNECTOR, obj, checkpoint=last.state)
    if mapped.rejected:
        log.warning(
            "%d %s records kept aside as unusable (first: %s)",
            len(mapped.rejected),
            obj,
            mapped.rejected[0]["reasons"][0],
        )


def _update_touches(engine: Engine) -> int:
    """Recount touches and first touches when contacts or activities were written; rows changed."""
    _, pending = syncs.get_sync_state(engine, CONNECTOR, TOUCHES)
    if not (pending or {}).get("pending"):
        return 0
    leads = queries.read_leads(engine, source=SOURCE, per_handover=False)
    activities = queries.read_activities(engine, source=SOURCE, per_handover=False)
    updates = mapping.touch_updates(leads, activities)
    with engine.begin() as conn:
        if not updates.empty:
            upserts.upsert_leads(conn, updates)
        syncs.set_sync_state(conn, CONNECTOR, TOUCHES, checkpoint=None)
    return len(updates)


class _Reporter:
    """Funnels progress from the writer and the fetch threads into one callback, one call at a time."""

    def __init__(self, progress: Progress | None):
        self._progress = progress
        self._lock = threading.Lock()
        self._total = 0
        self._finished = 0
        self._pages = 0
        self._rows = 0
        self._waited = 0.0
        self._started = time.monotonic()

    def __call__(self, stage: str, done: int, total: int | None, detail: str = "") -> None:
        if self._progress is None:
            return
        with self._lock:
            self._progress(stage, done, total, detail)

    def objects(self, total: int) -> None:
        self._total = total
        self._emit()

    def fetched(self, obj: str, rows: int) -> None:
        self._pages += 1
        self._rows += rows
        self._emit(obj)

    def finished(self, obj: str) -> None:
        self._finished += 1
        self._emit(f"{obj} done")

    def waiting(self, seconds: float, reason: str) -> None:
        with self._lock:
            self._waited += seconds
        self._emit(f"waiting {seconds:.1f} s ({reason.split(':')[0]})")

    def _emit(self, note: str = "") -> None:
        rate = self._pages / max(time.monotonic() - self._started, 1e-9)
        detail = (
            f"{self._pages:,} pages, {self._rows:,} rows, {rate:.1f} pages/s, waited {self._waited:.1f} s"
        )
        self("fetching", self._finished, self._total or None, f"{detail}; {note}" if note else detail)


def _epoch_ms(moment: dt.datetime) -> int:
    return int(pd.Timestamp(moment).tz_convert("UTC").value // 1_000_000)


def _user_message(exc: BaseException, token: str | None) -> str:
    if isinstance(exc, HubSpotError):
        text = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        text = "interrupted; the next sync continues from the last saved page"
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    return accord_settings.scrub(text, token)[:2000]
