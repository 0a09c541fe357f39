"""The Data page's panels: HubSpot, rejected rows, loads, audit trail, database — and the tables they show.

The ``*_table`` and ``describe_*`` functions are pure (a frame or dict in, a
display frame or sentence out) and unit-tested; the ``*_panel`` functions draw
with Streamlit. Syncs run as background jobs (:mod:`pages.components.jobs`):
progress is drawn while they run, the caches are cleared and an audit entry is
written when they end, whether or not anyone still watches.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

import settings
from analytics.charts import AMBER, GREEN, GREY, RED
from analytics.wording import literal
from bootstrap import remove_demo
from data import journal, syncs
from data.engine import current_revision, head_revision
from pages.components import auth, filters, jobs, loaders
from pages.components.exports import download_csv

OPEN_MODE_NOTICE = (
    "Accord is running open: sign-in is not configured, so everyone has admin rights. "
    "See README 'Running Accord for a team'."
)
RUN_STATUS_COLORS = {"ok": GREEN, "running": GREY, "interrupted": AMBER, "stopped": AMBER, "failed": RED}
RUN_STATUS_LABELS = {
    "ok": "ok",
    "running": "running",
    "interrupted": "interrupted",
    "stopped": "stopped (API limit)",  # a Salesforce sync that stopped before the org's daily API limit
    "failed": "failed",
}
TOKEN_SOURCES = {
    "environment": "the environment (HUBSPOT_ACCESS_TOKEN)",
    "secrets.toml": ".streamlit/secrets.toml",
}
HUBSPOT_DOCS = "https://developers.hubspot.com/docs/guides/apps/private-apps/overview"
REJECTED_SHOWN = 5_000  # rows of rejected_rows read for the table and its download
AUDIT_SHOWN = 500
ACTIVITY_OBJECTS = ("calls", "emails", "meetings", "tasks")  # HubSpot objects that become activities


# ----------------------------------------------------------------------------- pure: tables and sentences


def _when(value, timezone: str = "UTC") -> str:
    """A stored (UTC) instant as local time in ``timezone``, e.g. ``2026-11-27 15:05:09``; blank when missing.

    >>> _when(pd.Timestamp("2026-11-27 14:05:09", tz="UTC"), "Europe/Berlin")
    '2026-11-27 15:05:09'
    """
    if value is None or pd.isna(value):
        return ""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert(timezone).strftime("%Y-%m-%d %H:%M:%S")


def page_timezone() -> str:
    """The timezone every page shows times in: the agreement's (of the sidebar's filters), else UTC."""
    current = filters.current()
    return current.document.timezone if current is not None else "UTC"


def describe_duration(seconds: float | None) -> str:
    """A duration for people.

    >>> describe_duration(4.25), describe_duration(125), describe_duration(None)
    ('4.2 s', '2 min 5 s', '')
    """
    if seconds is None or pd.isna(seconds):
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def describe_counts(counts: dict | None) -> str:
    """The counts a load stored in ``sync_runs``, as a phrase.

    Imports (read / imported / updated / rejected ...), HubSpot syncs (owners
    and per-object counts) and anything else (``name: value`` pairs) are
    understood.

    >>> describe_counts({"read": 12, "imported": 10, "updated": 0, "rejected": 2, "duplicates": 0})
    '12 rows read: 10 new, 0 updated, 2 rejected'
    >>> describe_counts({"owners": 3, "objects": {"contacts": {"rows": 300, "rejected": 1, "mode": "full"},
    ...                  "calls": {"rows": 40}, "emails": {"rows": 2}}, "requests": 17})
    '3 owners, 300 contacts (full), 42 activities, 1 rejected, 17 requests'
    >>> describe_counts({"owners": 3, "owners_rejected": 2, "objects": {"contacts": {"rows": 5, "rejected": 1}}})
    '3 owners, 5 contacts, 3 rejected'
    >>> describe_counts({"leads": 3000, "deals": 400}), describe_counts(None)
    ('leads: 3,000, deals: 400', '')
    """
    if not counts:
        return ""
    if "read" in counts:
        text = (
            f"{counts.get('read', 0):,} rows read: {counts.get('imported', 0):,} new, "
            f"{counts.get('updated', 0):,} updated, {counts.get('rejected', 0):,} rejected"
        )
        extras = {
            "duplicates": "repeated ids",
            "owners_created": "owners created",
            "blank_lines": "blank lines",
        }
        for name, label in extras.items():
            if counts.get(name):
                text += f", {counts[name]:,} {label}"
        return text
    if "objects" in counts:
        parts = [f"{counts.get('owners', 0):,} owners"]
        objects = counts.get("objects") or {}
        activities, rejected = 0, int(counts.get("owners_rejected", 0) or 0)
        for name, c in objects.items():
            rejected += int(c.get("rejected", 0) or 0)
            if name in ACTIVITY_OBJECTS:
                activities += int(c.get("rows", 0) or 0)
            else:
                mode = f" ({c['mode']})" if c.get("mode") else ""
                parts.append(f"{int(c.get('rows', 0) or 0):,} {name}{mode}")
        if any(name in ACTIVITY_OBJECTS for name in objects):
            parts.append(f"{activities:,} activities")
        if rejected:
            parts.append(f"{rejected:,} rejected")
        if counts.get("requests"):
            parts.append(f"{counts['requests']:,} requests")
        return ", ".join(parts)
    return ", ".join(
        f"{name}: {value:,}" if isinstance(value, int | float) else f"{name}: {value}"
        for name, value in counts.items()
    )


def describe_detail(detail) -> str:
    """An audit entry's detail as ``key: value`` pairs (nested values as compact JSON).

    >>> describe_detail({"status": "ok", "imported": 1200, "objects": {"contacts": 3}})
    'status: ok, imported: 1,200, objects: {"contacts": 3}'
    >>> describe_detail(None)
    ''
    """
    if not detail:
        return ""
    if not isinstance(detail, dict):
        return str(detail)

    def value(v) -> str:
        if isinstance(v, bool) or v is None:
            return str(v)
        if isinstance(v, int | float):
            return f"{v:,}"
        if isinstance(v, dict | list):
            return json.dumps(v, default=str, ensure_ascii=False)
        return str(v)

    return ", ".join(f"{k}: {value(v)}" for k, v in detail.items())


def runs_table(runs: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """``sync_runs`` (newest first) as people read it: when (in ``timezone``), what, status, how long, counts,
    error."""
    started = f"Started ({timezone})"
    columns = [started, "Source", "Kind", "Status", "Took", "Counts", "Error"]
    if runs.empty:
        return pd.DataFrame(columns=columns, dtype="str")
    took = (runs["finished_at"] - runs["started_at"]).dt.total_seconds()
    return pd.DataFrame(
        {
            started: runs["started_at"].map(lambda v: _when(v, timezone)),
            "Source": runs["connector"].astype("str"),
            "Kind": runs["kind"].astype("str"),
            "Status": runs["status"].map(lambda s: RUN_STATUS_LABELS.get(s, s)).astype("str"),
            "Took": took.map(describe_duration),
            "Counts": runs["counts"].map(describe_counts),
            "Error": runs["error"].fillna("").astype("str"),
        }
    ).reset_index(drop=True)


def style_statuses(table: pd.DataFrame):
    """A Styler that colours the Status column with the status vocabulary (green ok, red failed ...)."""
    colors = {label: RUN_STATUS_COLORS[status] for status, label in RUN_STATUS_LABELS.items()}
    return table.style.map(
        lambda v: f"color: {colors.get(v, GREY)}; font-weight: 600" if v else "", subset=["Status"]
    )


def rejected_table(rejected: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """``rejected_rows`` as shown and downloaded: where each row came from, why it was kept aside, its raw values;
    when it was seen in ``timezone``."""
    seen = f"Seen at ({timezone})"
    columns = ["Source", "Object", "Line", "Column", "Reasons", "External id", seen, "Raw"]
    if rejected.empty:
        return pd.DataFrame(columns=columns, dtype="str")
    return pd.DataFrame(
        {
            "Source": rejected["source"].astype("str"),
            "Object": rejected["object"].astype("str"),
            "Line": pd.array(rejected["row_number"], dtype="Int64"),
            "Column": rejected["column_name"].astype("str"),
            "Reasons": rejected["reasons"].astype("str"),
            "External id": rejected["external_id"].astype("str"),
            seen: rejected["seen_at"].map(lambda v: _when(v, timezone)),
            "Raw": rejected["raw"].astype("str"),
        }
    ).reset_index(drop=True)


def audit_table(audit: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """The audit trail (newest first): when (in ``timezone``), who, what, on what, with which outcome."""
    at = f"At ({timezone})"
    columns = [at, "Who", "Action", "Target", "Detail"]
    if audit.empty:
        return pd.DataFrame(columns=columns, dtype="str")
    return pd.DataFrame(
        {
            at: audit["at"].map(lambda v: _when(v, timezone)),
            "Who": audit["actor"].astype("str"),
            "Action": audit["action"].astype("str"),
            "Target": audit["target"].fillna("").astype("str"),
            "Detail": audit["detail"].map(describe_detail),
        }
    ).reset_index(drop=True)


# ----------------------------------------------------------------------------- panels


def open_mode_notice() -> None:
    """Say so at the top when sign-in is not configured (everyone is an admin)."""
    if not auth.auth_configured():
        st.info(OPEN_MODE_NOTICE, icon=":material/lock_open:")


def counts_row(url: str) -> None:
    counts = loaders.table_counts(url)
    columns = st.columns(len(counts))
    for column, (table, rows) in zip(columns, counts.items(), strict=True):
        column.metric(table.capitalize(), f"{rows:,}", help=f"Rows in the {table} table")


def sources_panel(url: str) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Sources")
        if "demo_removed" in st.session_state:  # said once, after the rerun that follows the removal
            deleted = st.session_state.pop("demo_removed")
            st.success(f"Demo company removed: {', '.join(f'{n:,} {t}' for t, n in deleted.items())}.")
        sources = loaders.source_counts(url)
        if sources.empty:
            st.write("Nothing loaded yet.")
        else:
            table = sources.pivot_table(
                index="source", columns="table", values="rows", fill_value=0, aggfunc="sum"
            ).reset_index()
            table.columns.name = None
            st.dataframe(table, key="data_sources", width="stretch", hide_index=True)
            if "demo" in set(sources["source"]) and auth.can("remove_demo"):
                demo_removal(url)
    with right:
        st.subheader("Database")
        st.write(f"`{settings.masked_url(url)}`")
        revision, head = current_revision(loaders.engine()), head_revision()
        state = "up to date" if revision == head else f"the code expects {head}"
        st.caption(
            f"Schema revision {revision} ({state}). Set ACCORD_DATABASE_URL to use PostgreSQL "
            "(README, 'PostgreSQL')."
        )


def demo_removal(url: str) -> None:
    """Admins remove the demo company: every demo row, in one transaction, audited."""
    with st.popover("Remove the demo company", icon=":material/delete:"):
        st.write(
            "Deletes every row whose source is **demo** (owners, leads, deals, activities) in one "
            "transaction. Your own data, agreements, snapshots and the history stay. The audit trail records it."
        )
        sure = st.checkbox("Yes, remove the demo company", key="demo_remove_sure")
        if st.button("Remove demo data", key="demo_remove", type="primary", disabled=not sure):
            deleted = remove_demo(loaders.engine(), actor=auth.current_user().email)
            loaders.clear()
            st.session_state["demo_removed"] = deleted
            st.rerun()


def _hubspot_job_key(url: str) -> str:
    return f"hubspot-sync:{url}"


def _token_help() -> str:
    from connectors.hubspot.settings import SCOPES

    scopes = ", ".join(f"`{s}`" for s in sorted(set(SCOPES.values())))
    return (
        "1. In HubSpot: **Settings > Integrations > Private apps > Create a private app** "
        f"([HubSpot's guide]({HUBSPOT_DOCS})).\n"
        f"2. Under **Scopes**, tick the read scopes Accord needs: {scopes}.\n"
        "3. Create the app and copy its access token (it starts with `pat-`).\n"
        "4. Give it to Accord as `HUBSPOT_ACCESS_TOKEN`: an environment variable, or a line "
        '`HUBSPOT_ACCESS_TOKEN = "pat-…"` in `.streamlit/secrets.toml` (never commit that file). '
        "It is read on every sync; no restart needed.\n\n"
        "Details: README, section 'Connect HubSpot'."
    )


def _sync_work(engine, full: bool, actor: str, target: str):
    """What the background job does: sync, record the audit entry, clear the caches."""
    from connectors.hubspot.settings import HubSpotConfig
    from connectors.hubspot.sync import sync

    def work(job: jobs.Job):
        try:
            summary = sync(engine, full=full, progress=job.progress, config=HubSpotConfig.from_settings())
        except BaseException as exc:
            status = "refused" if isinstance(exc, syncs.RunBusyError) else "failed"
            detail = {"full": full, "status": status, "error": _safe(str(exc))[:500]}
            journal.add_audit(engine, actor, "sync.hubspot", target, detail)
            raise
        finally:
            loaders.clear()
        detail = {"kind": summary.kind, "status": summary.status, "run_id": summary.run_id}
        detail["counts"] = describe_counts(summary.counts())
        journal.add_audit(engine, actor, "sync.hubspot", target, detail)
        return summary

    return work


def _safe(text: str) -> str:
    """``text`` with every secret (in any of its forms, settings.scrub) replaced by its masked form."""
    return settings.scrub(text)


def _show_sync_outcome(job: jobs.Job) -> None:
    from connectors.hubspot import HubSpotAuthError, HubSpotError

    if job.error is None:
        summary = job.result
        (st.success if summary.status == "ok" else st.warning)(summary.describe())
    elif isinstance(job.error, HubSpotAuthError):
        st.error(_safe(str(job.error)), icon=":material/key_off:")
    elif isinstance(job.error, HubSpotError | settings.SettingError):
        st.error(_safe(str(job.error)))
    elif isinstance(job.error, syncs.RunBusyError):  # a sync from cron or another server is going
        st.warning(str(job.error), icon=":material/sync_lock:")
    else:
        st.session_state.pop("hubspot_job", None)  # shown once: the next run starts clean
        raise job.error


def hubspot_panel(url: str, timezone: str = "UTC") -> None:
    """Token status, base URL, last sync, and (for admins) "Sync now" / "Full re-sync" with progress."""
    from connectors.hubspot import token_status

    status = token_status()
    st.subheader("HubSpot")
    if status.configured:
        st.markdown(
            f"Access token `{status.masked}` from {TOKEN_SOURCES.get(status.source, status.source)}. "
            f"API: `{status.base_url}`."
        )
    else:
        st.info(
            "HubSpot is not connected: no access token is configured. "
            "Set HUBSPOT_ACCESS_TOKEN (see *How to get a token* below), then sync."
        )
    runs = loaders.sync_runs(url)
    hubspot_runs = runs[runs["connector"] == "hubspot"] if not runs.empty else runs
    if not hubspot_runs.empty:
        last = hubspot_runs.iloc[0]
        st.caption(
            f"Last sync: {last['kind']}, {last['status']}, started {_when(last['started_at'], timezone)} ({timezone})"
            + (f" — {describe_counts(last['counts'])}" if last["counts"] else "")
        )
    with st.expander("How to get a token", icon=":material/help:"):
        st.markdown(_token_help())
    if not auth.can("run_sync"):
        st.caption("Only admins can run a sync.")
        return

    key = _hubspot_job_key(url)
    running = jobs.current(key)
    busy = running is not None and running.running
    elsewhere = None if busy else syncs.running_run(loaders.engine(), "hubspot")  # cron, another server
    if elsewhere is not None and not syncs.run_alive(elsewhere):
        elsewhere = None  # died: the next sync takes over
    if elsewhere is not None:
        st.info(
            f"A HubSpot sync started elsewhere is running: run {elsewhere['id']}, started "
            f"{_when(elsewhere['started_at'], timezone)} ({timezone}) by process {elsewhere['pid']} on {elsewhere['host']} "
            "(cron or another Accord server). Sync now is back when it has finished.",
            icon=":material/sync_lock:",
        )
    blocked = busy or elsewhere is not None or not status.configured
    left, right, _ = st.columns([1, 1, 4])
    sync_now = left.button(
        "Sync now", key="hubspot_sync", type="primary", icon=":material/sync:",
        disabled=blocked,
        help="Read what changed in HubSpot since the last sync (the first sync reads everything).",
    )  # fmt: skip
    full = right.button(
        "Full re-sync", key="hubspot_full_sync", icon=":material/restart_alt:",
        disabled=blocked,
        help="Read every record again through HubSpot's list endpoints (slower; repairs anything missed).",
    )  # fmt: skip
    if (sync_now or full) and not busy:
        user = auth.current_user()
        label = "HubSpot full re-sync" if full else "HubSpot sync"
        work = _sync_work(loaders.engine(), full, user.email, status.base_url)
        try:
            job = jobs.start(key, label, work, user.email)
        except jobs.JobBusyError as exc:
            st.warning(str(exc))
            return
        st.session_state["hubspot_job"] = job
        jobs.follow(job)
        return
    if busy:
        jobs.progress_box(key)
        return
    finished = st.session_state.get("hubspot_job")
    if finished is not None and finished.key == key:
        _show_sync_outcome(finished)


def rejected_panel(url: str, timezone: str = "UTC") -> None:
    """Rows kept aside by syncs and imports, with their reasons; filter by source; download as CSV."""
    st.subheader("Rejected rows")
    if not auth.can("see_rejected_rows"):
        st.caption("Only admins can see rejected rows.")
        return
    everything = loaders.rejected_rows(url, None, REJECTED_SHOWN)
    if everything.empty:
        st.write("No row has been rejected: every synced or imported row could be used.")
        return
    sources = sorted(set(everything["source"]) | set(loaders.source_counts(url).get("source", [])))
    chosen = st.selectbox(
        "Source", ["All sources", *sources], key="rejected_source",
        help="Show the rejected rows of one source (a connector or a file import's source name).",
    )  # fmt: skip
    frame = everything if chosen == "All sources" else loaders.rejected_rows(url, chosen, REJECTED_SHOWN)
    if frame.empty:
        st.write(f"No row from {literal(chosen)} has been rejected.")
        return
    table = rejected_table(frame, timezone)
    more = " (the newest)" if len(frame) >= REJECTED_SHOWN else ""
    st.caption(
        f"{len(table):,} rejected rows{more}{'' if chosen == 'All sources' else f' from {chosen}'}. "
        "Fix them in the CRM (or the file) and sync or import again: fixed rows are then imported. "
        "This list stays as the record of what was kept aside."
    )
    st.dataframe(
        table.drop(columns=["Raw"]), key="rejected_table", hide_index=True, width="stretch",
        column_config={"Reasons": st.column_config.TextColumn(width="large")},
    )  # fmt: skip
    name = "all" if chosen == "All sources" else chosen
    download_csv(
        table,
        f"accord-rejected-rows-{name}.csv",
        key="rejected_download",
        label="Download rejected rows (CSV)",
    )


def history_panel(url: str, timezone: str = "UTC") -> None:
    """Every sync and import (newest first), status in colour, counts in words, errors in full."""
    st.subheader("Sync and import history")
    runs = loaders.sync_runs(url)
    if runs.empty:
        st.write("No sync or import has run yet.")
        return
    table = runs_table(runs, timezone)
    st.dataframe(
        style_statuses(table), key="data_runs", hide_index=True, width="stretch",
        column_config={"Counts": st.column_config.TextColumn(width="large"),
                       "Error": st.column_config.TextColumn(width="large")},
    )  # fmt: skip
    st.caption(
        f"The {len(table):,} most recent loads, times in {timezone} (the agreement's timezone). "
        "A dry run checks a file and writes nothing."
    )


def audit_panel(url: str, timezone: str = "UTC") -> None:
    """Who changed the agreement, ran a sync or an import, and when; downloadable."""
    st.subheader("Audit trail")
    audit = loaders.audit(url, AUDIT_SHOWN)
    if audit.empty:
        st.write("Nothing recorded yet: agreement changes, syncs and imports appear here.")
        return
    table = audit_table(audit, timezone)
    st.dataframe(
        table, key="audit_table", hide_index=True, width="stretch",
        column_config={"Detail": st.column_config.TextColumn(width="large")},
    )  # fmt: skip
    download_csv(
        table, "accord-audit-trail.csv", key="audit_download", label="Download the audit trail (CSV)"
    )
