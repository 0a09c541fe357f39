"""The Data page's "Connect Salesforce" panel: credentials (masked), the last sync, and Sync now.

Self-contained: the page calls :func:`salesforce_panel` in its Salesforce tab.
The sync runs as a background job (:mod:`pages.components.jobs`), like
HubSpot's: progress while it runs, caches cleared and an audit entry written
when it ends, whether or not anyone still watches.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import settings
from data import journal, syncs
from pages.components import auth, jobs, loaders

SECRET_SOURCES = {
    "environment": "the environment",
    "secrets.toml": ".streamlit/secrets.toml",
}
SETUP_HELP = (
    "1. In Salesforce, give an integration user *API Enabled* and read access to Lead, LeadHistory, "
    "Opportunity, User, Task, Event and Campaign.\n"
    "2. Create a connected app with the scope `api`, tick *Enable Client Credentials Flow* and set that "
    "user as its *Run As* user.\n"
    "3. Give Accord `SALESFORCE_LOGIN_URL` (your My Domain URL), `SALESFORCE_CLIENT_ID` and "
    "`SALESFORCE_CLIENT_SECRET`: environment variables, or lines in `.streamlit/secrets.toml` (never commit "
    "that file). They are read on every sync; no restart needed.\n\n"
    "Details, and which fields carry the handover and the decisions: README, section 'Connect Salesforce'."
)


def _job_key(url: str) -> str:
    return f"salesforce-sync:{url}"


def _safe(text: str) -> str:
    """``text`` with the configured client secret (should it ever appear) replaced by its masked form."""
    secret = settings.get("SALESFORCE_CLIENT_SECRET")
    return text.replace(secret, settings.mask(secret)) if secret else text


def describe_run(counts: dict | None) -> str:
    """A Salesforce run's stored counts as a phrase.

    >>> describe_run({"objects": {"Lead": {"rows": 150, "mode": "full"}, "Task": {"rows": 9},
    ...     "Event": {"rows": 2}, "Opportunity": {"rows": 4, "rejected": 1}}, "requests": 30,
    ...     "daily_api_max": 15000, "daily_api_remaining": 14970})
    '150 leads (full), 4 deals, 11 activities, 1 rejected, 30 requests, 14,970 of 15,000 daily API requests left'
    """
    if not counts:
        return ""
    objects = counts.get("objects") or {}
    parts = []
    for name, table in (("User", "owners"), ("Lead", "leads"), ("Opportunity", "deals")):
        if name in objects:
            mode = objects[name].get("mode")
            parts.append(f"{objects[name].get('rows', 0):,} {table}" + (f" ({mode})" if mode else ""))
    activities = sum(objects.get(n, {}).get("rows", 0) for n in ("Task", "Event"))
    if "Task" in objects or "Event" in objects:
        parts.append(f"{activities:,} activities")
    rejected = sum(o.get("rejected", 0) for o in objects.values())
    if rejected:
        parts.append(f"{rejected:,} rejected")
    parts.append(f"{counts.get('requests', 0):,} requests")
    if counts.get("daily_api_max"):
        parts.append(
            f"{counts['daily_api_remaining']:,} of {counts['daily_api_max']:,} daily API requests left"
        )
    return ", ".join(parts)


def _work(engine, full: bool, actor: str, target: str):
    from connectors.salesforce import SalesforceConfig
    from connectors.salesforce.sync import sync

    def work(job: jobs.Job):
        try:
            summary = sync(engine, full=full, progress=job.progress, config=SalesforceConfig.from_settings())
        except BaseException as exc:
            status = "refused" if isinstance(exc, syncs.RunBusyError) else "failed"
            journal.add_audit(engine, actor, "sync.salesforce", target, {"full": full, "status": status,
                           "error": _safe(str(exc))[:500]})  # fmt: skip
            raise
        finally:
            loaders.clear()
        detail = {"kind": summary.kind, "status": summary.status, "run_id": summary.run_id}
        detail["counts"] = describe_run(summary.counts())
        journal.add_audit(engine, actor, "sync.salesforce", target, detail)
        return summary

    return work


def _show_outcome(job: jobs.Job) -> None:
    from connectors.salesforce import SalesforceError, SalesforceLimitError

    if job.error is None:
        summary = job.result
        (st.success if summary.status == "ok" else st.warning)(summary.describe())
    elif isinstance(job.error, SalesforceLimitError):
        st.warning(_safe(str(job.error)), icon=":material/hourglass_top:")
    elif isinstance(job.error, SalesforceError | settings.SettingError):
        st.error(_safe(str(job.error)))
    elif isinstance(job.error, syncs.RunBusyError):
        st.warning(str(job.error), icon=":material/sync_lock:")
    else:
        st.session_state.pop("salesforce_job", None)
        raise job.error


def salesforce_panel(url: str) -> None:
    """Credential status (masked), last sync, and (for admins) "Sync now" / "Full re-sync" with progress."""
    from connectors.salesforce import credential_status

    status = credential_status()
    st.subheader("Salesforce")
    if status.configured:
        st.markdown(
            f"Org `{status.login_url}`, connected app `{status.client_id}`, secret `{status.client_secret}` "
            f"from {SECRET_SOURCES.get(status.source, status.source)}."
        )
    else:
        st.info(
            "Salesforce is not connected: set SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID and "
            "SALESFORCE_CLIENT_SECRET (see *How to connect* below), then sync."
        )
    runs = loaders.sync_runs(url)
    mine = runs[runs["connector"] == "salesforce"] if not runs.empty else runs
    if not mine.empty:
        last = mine.iloc[0]
        when = pd.Timestamp(last["started_at"]).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S")
        counts = last["counts"] if isinstance(last["counts"], dict) else None
        st.caption(
            f"Last sync: {last['kind']}, {last['status']}, started {when} UTC"
            + (f" — {describe_run(counts)}" if counts else "")
        )
    with st.expander("How to connect", icon=":material/help:"):
        st.markdown(SETUP_HELP)
    if not auth.can("run_sync"):
        st.caption("Only admins can run a sync.")
        return
    key = _job_key(url)
    running = jobs.current(key)
    busy = running is not None and running.running
    elsewhere = None if busy else syncs.running_run(loaders.engine(), "salesforce")
    if elsewhere is not None and not syncs.run_alive(elsewhere):
        elsewhere = None
    if elsewhere is not None:
        st.info(
            f"A Salesforce sync started elsewhere is running: run {elsewhere['id']} by process "
            f"{elsewhere['pid']} on {elsewhere['host']}. Sync now is back when it has finished.",
            icon=":material/sync_lock:",
        )
    blocked = busy or elsewhere is not None or not status.configured
    left, right, _ = st.columns([1, 1, 4])
    sync_now = left.button(
        "Sync now", key="salesforce_sync", type="primary", icon=":material/sync:", disabled=blocked,
        help="Read what changed in Salesforce since the last sync (the first sync reads everything).",
    )  # fmt: skip
    full = right.button(
        "Full re-sync", key="salesforce_full_sync", icon=":material/restart_alt:", disabled=blocked,
        help="Read every record again through Bulk API 2.0 (slower; repairs anything missed).",
    )  # fmt: skip
    if (sync_now or full) and not busy:
        user = auth.current_user()
        label = "Salesforce full re-sync" if full else "Salesforce sync"
        try:
            job = jobs.start(
                key, label, _work(loaders.engine(), full, user.email, status.login_url), user.email
            )
        except jobs.JobBusyError as exc:
            st.warning(str(exc))
            return
        st.session_state["salesforce_job"] = job
        jobs.follow(job)
        return
    if busy:
        jobs.progress_box(key)
        return
    finished = st.session_state.get("salesforce_job")
    if finished is not None and finished.key == key:
        _show_outcome(finished)
