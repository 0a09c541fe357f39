"""Alerts in the product: the Data page's alert panel (history, failures, routing, a test alert) and the
Sales queue's "alerted" mark. Self-contained so the pages call it in one line each.

The panel never shows a secret: webhook URLs and tokens appear masked (``settings.mask``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import settings
from alerts import ledger
from alerts.email import ChannelError, build_message, send_email
from alerts.messages import KIND_LABELS, test_message
from alerts.routing import RoutingError, load_routing
from alerts.slack import SlackTarget, send_slack
from data import journal, transactions
from pages.components import loaders

HISTORY_ROWS = 200


def mark_alerted(queue: pd.DataFrame) -> pd.DataFrame:
    """Return the Sales queue with its ``state`` saying which leads were alerted and when (the last sent alert)."""
    if queue.empty or "lead_id" not in queue.columns:
        return queue
    try:
        sent = ledger.last_alerted(loaders.reader(), queue["lead_id"].dropna().astype("int64").tolist())
    except transactions.StorageError:
        return queue
    if sent.empty:
        return queue
    by_lead = sent.set_index("lead_id")
    notes = queue["lead_id"].map(
        lambda i: (
            f" · alerted {by_lead.loc[i, 'sent_at']:%m-%d %H:%M} UTC ({KIND_LABELS.get(by_lead.loc[i, 'kind'], '')})"
            if i in by_lead.index
            else ""
        )
    )
    return queue.assign(state=queue["state"].astype(str) + notes.astype(str))


def alerts_panel() -> None:
    """Draw the Data page's alert panel: routing in force, history and failures, "Send a test alert"."""
    with st.expander("Alerts: history, failures, routing", expanded=False):
        engine = loaders.reader()  # the panel only reads; the test alert's audit entry goes to the writer
        _routing_in_force()
        counts = ledger.status_counts(engine)
        if counts:
            st.write(" · ".join(f"**{n:,}** {status}" for status, n in sorted(counts.items())))
        history = ledger.read_ledger(engine, limit=HISTORY_ROWS)
        failures = history[history["status"].isin(["failed", "unknown"])]
        if not failures.empty:
            st.warning(f"{len(failures)} of the last {len(history)} alerts did not go out (or may not have).")
            st.dataframe(_shown(failures), key="alerts_failures", hide_index=True)
        if history.empty:
            st.info("No alert has been sent yet: run `cli.py alerts` from cron (see README, 'Alerts').")
        else:
            st.dataframe(_shown(history), key="alerts_history", hide_index=True)
        _test_alert_form()


def _shown(rows: pd.DataFrame) -> pd.DataFrame:
    columns = ["claimed_at", "kind", "agreement", "subject", "window", "channel", "recipient", "status", "attempts",
               "sent_at", "error"]  # fmt: skip
    return rows[columns].assign(kind=rows["kind"].map(lambda k: KIND_LABELS.get(k, k)))


def _routing_in_force() -> None:
    get = settings.get
    lines = [
        f"E-mail: {'SMTP ' + get('ACCORD_SMTP_HOST') + ':' + get('ACCORD_SMTP_PORT') if get('ACCORD_SMTP_HOST') else 'off (ACCORD_SMTP_HOST is not set)'}",
        f"Slack default channel: {settings.mask(get('ACCORD_SLACK_WEBHOOK_URL'))}; "
        f"bot token: {settings.mask(get('ACCORD_SLACK_BOT_TOKEN'))}",
        f"Warning {get('ACCORD_ALERT_LEAD_TIME')} business hour(s) before a follow-up window ends",
    ]
    try:
        routing = load_routing(settings.SECRETS_FILE)
        lines += routing.describe()
    except RoutingError as exc:
        st.error(str(exc))
    st.markdown("\n".join(f"- {line}" for line in lines))


def _test_alert_form() -> None:
    with st.form("alerts_test_form", clear_on_submit=False):
        st.write("**Send a test alert**")
        where = st.radio("To", ["an e-mail address", "the default Slack channel"], key="alerts_test_to",
                         horizontal=True)  # fmt: skip
        address = st.text_input("E-mail address", key="alerts_test_address")
        sent = st.form_submit_button("Send a test alert")
    if not sent:
        return
    from alerts.command import settings_from_environment

    user = getattr(st.user, "email", None) or "an administrator"
    message = test_message(user)
    try:
        config = settings_from_environment()
        if where == "an e-mail address":
            if "@" not in address:
                st.error("Enter the e-mail address to send the test alert to.")
                return
            email = build_message(
                config.smtp.sender, address.strip(), message.subject, message.text, message.html
            )
            send_email(config.smtp, email)
            recipient = address.strip()
        else:
            if not config.slack_webhook_url:
                st.error("ACCORD_SLACK_WEBHOOK_URL is not set: there is no default Slack channel to test.")
                return
            target = SlackTarget("the default channel", "ACCORD_SLACK_WEBHOOK_URL", config.slack_webhook_url)
            send_slack(target, message.subject, message.blocks, bot_token=config.slack_bot_token)
            recipient = "the default channel"
    except (ChannelError, ValueError) as exc:
        st.error(str(exc))
        journal.add_audit(
            loaders.engine(), user, "alert.test", recipient_label(where, address), {"error": str(exc)}
        )
        return
    journal.add_audit(loaders.engine(), user, "alert.test", recipient, {"ok": True})
    st.success(f"Test alert sent to {recipient}.")


def recipient_label(where: str, address: str) -> str:
    """Return who a test alert was for, as the audit trail names them."""
    return address.strip() if where == "an e-mail address" else "the default channel"
