"""The words of each alert: a subject, plain text, HTML and Slack Block Kit blocks, from plain values.

Pure: rows of :mod:`alerts.rules` frames and a few names in, strings and dicts out. Each lead links to
its CRM record when the routing gives a ``crm_record_url`` template.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from alerts.rules import BREACHED, DAILY_QUEUE, DUE_SOON, WEEKLY_DIGEST

SLACK_LIST_LIMIT = 40  # Block Kit allows 50 blocks; the rest are counted, not listed


@dataclass(frozen=True)
class Message:
    """One message, ready for any channel."""

    subject: str
    text: str
    html: str
    blocks: list[dict] = field(default_factory=list)


def lead_link(row: Mapping[str, Any], template: str | None) -> str | None:
    """Return the CRM address of a lead from ``template`` ("...{external_id}"), or None.

    >>> lead_link({"external_id": "901", "lead_id": 3}, "https://crm/x/{external_id}")
    'https://crm/x/901'
    """
    if not template or row.get("external_id") in (None, "") or pd.isna(row.get("external_id")):
        return None
    return template.replace("{external_id}", str(row["external_id"])).replace(
        "{lead_id}", str(row["lead_id"])
    )


def lead_name(row: Mapping[str, Any]) -> str:
    """Return how a lead is named in a message: ``lead 901`` (its CRM id), else ``lead #3`` (Accord's)."""
    ext = row.get("external_id")
    return f"lead {ext}" if ext not in (None, "") and not pd.isna(ext) else f"lead #{row['lead_id']}"


def _when(value: Any, tz: str) -> str:
    return pd.Timestamp(value).tz_convert(tz).strftime("%a %d %b %H:%M")


def _hours(value: float) -> str:
    minutes = round(abs(float(value)) * 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def lead_message(row: Mapping[str, Any], tz: str, template: str | None, agreement: str) -> Message:
    """Return the message of a due-soon or breached alert (``row``: one row of :func:`alerts.rules.lead_alerts`)."""
    name, link = lead_name(row), lead_link(row, template)
    owner = row.get("owner") if isinstance(row.get("owner"), str) and row.get("owner") else "its owner"
    due = _when(row["due_at"], tz)
    if row["kind"] == DUE_SOON:
        subject = f"Follow up {name} by {due}"
        body = (f"{name} ({row.get('channel') or 'no channel'}) was handed to {owner} and is not touched yet. "
                f"Its follow-up window ({row['commitment']}) ends {due} ({tz}): {_hours(row['hours_left'])} "
                "of business time left.")  # fmt: skip
    elif row["kind"] == BREACHED:
        subject = f"Missed: {name} was not followed up in time"
        body = (f"{name} ({row.get('channel') or 'no channel'}), owner {owner}, was due {due} ({tz}) under "
                f"{row['commitment']} and is still untouched: overdue by {_hours(row['hours_left'])} of "
                "business time.")  # fmt: skip
    else:
        raise ValueError(f"not a lead alert: {row['kind']!r}")
    text = f"{body}\n" + (f"\nOpen it in the CRM: {link}\n" if link else "") + f"\n— Accord, {agreement}\n"
    shown = f'<a href="{html.escape(link)}">{html.escape(name)}</a>' if link else html.escape(name)
    page = (f"<p>{html.escape(body).replace(html.escape(name), shown, 1)}</p>"
            f"<p style=\"color:#666\">Accord, {html.escape(agreement)}</p>")  # fmt: skip
    slack_name = f"<{link}|{name}>" if link else name
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _slack_escape(body).replace(name, slack_name, 1)},
        },
    ]
    return Message(subject, text, page, blocks)


def queue_message(
    team: str, day: str, rows: pd.DataFrame, tz: str, template: str | None, agreement: str
) -> Message:
    """Return a team's daily queue: its untouched leads overdue or due today (``rows`` from :func:`queue_leads`)."""
    overdue = rows[rows["hours_left"] < 0]
    subject = f"{team}: {len(overdue)} overdue, {len(rows) - len(overdue)} due today ({day})"
    lines, items, slack = [], [], []
    for row in rows.to_dict("records"):
        name, link = lead_name(row), lead_link(row, template)
        state = (
            f"overdue by {_hours(row['hours_left'])}"
            if row["hours_left"] < 0
            else f"due {_when(row['due_at'], tz)}"
        )
        owner = row["owner"] if isinstance(row.get("owner"), str) and row.get("owner") else "no owner"
        lines.append(f"- {name}, {owner}: {state}" + (f" {link}" if link else ""))
        shown = f'<a href="{html.escape(link)}">{html.escape(name)}</a>' if link else html.escape(name)
        items.append(f"<li>{shown}, {html.escape(owner)}: {html.escape(state)}</li>")
        slack.append(f"• {f'<{link}|{name}>' if link else name}, {_slack_escape(owner)}: {state}")
    text = f"{subject}\n\n" + "\n".join(lines) + f"\n\n— Accord, {agreement}\n"
    page = f'<p>{html.escape(subject)}</p><ul>{"".join(items)}</ul><p style="color:#666">Accord, {html.escape(agreement)}</p>'
    shown = slack[:SLACK_LIST_LIMIT] + (
        [f"… and {len(slack) - SLACK_LIST_LIMIT} more"] if len(slack) > SLACK_LIST_LIMIT else []
    )
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": subject[:150]}}]
    for i in range(0, len(shown), 10):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(shown[i : i + 10])}})
    return Message(subject, text, page, blocks)


def digest_message(
    agreement: str, week: str, dates: str, board: pd.DataFrame, gaps: Sequence[str]
) -> Message:
    """Return the weekly digest: the Overview's scoreboard of ``week`` as text, and its biggest gaps."""
    subject = f"{agreement}: week {week} ({dates})"
    cols = list(board.columns)
    lines = [" | ".join(cols)] + [" | ".join(str(v) for v in r) for r in board.itertuples(index=False)]
    gap_text = "\n".join(f"- {g}" for g in gaps) or "- nothing is behind target"
    text = f"{subject}\n\n" + "\n".join(lines) + f"\n\nBiggest gaps:\n{gap_text}\n\n— Accord\n"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>"
                   for r in board.itertuples(index=False))  # fmt: skip
    gap_items = "".join(f"<li>{html.escape(g)}</li>" for g in gaps) or "<li>nothing is behind target</li>"
    page = (f"<h2>{html.escape(subject)}</h2><table border=\"1\" cellpadding=\"4\"><tr>{head}</tr>{body}</table>"
            f"<h3>Biggest gaps</h3><ul>{gap_items}</ul>")  # fmt: skip
    summary = (
        "\n".join(f"• {r[1]}: {r[2]} ({r[4]})" for r in board.itertuples(index=False)) or "no commitments"
    )
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(summary)[:3000]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Biggest gaps*\n" + _slack_escape(gap_text)[:2900]},
        },
    ]
    return Message(subject, text, page, blocks)


def test_message(who: str) -> Message:
    """Return the message of "Send a test alert": proof the channel works, nothing about any lead."""
    subject = "Accord test alert"
    body = f"This is a test alert sent by {who}: alerts reach this address or channel."
    return Message(subject, body + "\n", f"<p>{html.escape(body)}</p>",
                   [{"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(body)}}])  # fmt: skip


def _slack_escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


KIND_LABELS = {
    DUE_SOON: "due soon",
    BREACHED: "breached",
    DAILY_QUEUE: "daily queue",
    WEEKLY_DIGEST: "weekly digest",
}
