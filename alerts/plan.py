"""Who gets each due alert, on which channel, now: pure planning from the rules' frames and the routing.

- due soon -> the lead's owner by e-mail;
- breached -> the owner by e-mail, the team's managers by e-mail, and the team's Slack channel (its
  webhook or channel, else the default webhook ``ACCORD_SLACK_WEBHOOK_URL``);
- daily queue -> each team's managers by e-mail and the team's own Slack channel;
- weekly digest -> ``digest_to`` by e-mail and the default Slack webhook.

A recipient outside the working hours of their calendar (the team's; the agreement's for the digest)
is held until the next run inside them, unless they opted in (``after_hours``); people who opted out
of a kind get none of it. Problems a person must fix (an owner without an e-mail address) come back as
one line each, and every other alert still goes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from alerts.ledger import Delivery
from alerts.messages import Message, lead_message, queue_message
from alerts.routing import Routing
from alerts.rules import BREACHED, DAILY_QUEUE, DUE_SOON, WEEKLY_DIGEST, at_work, daily_queue_due
from alerts.slack import SlackTarget
from analytics.agreement import Agreement

DEFAULT_WEBHOOK = "ACCORD_SLACK_WEBHOOK_URL"


@dataclass(frozen=True)
class Outgoing:
    """One message to send: its ledger key, its words, and its address (e-mail) or Slack target."""

    delivery: Delivery
    message: Message
    email: str | None = None
    slack: SlackTarget | None = None
    attach_pack: bool = False


@dataclass
class Plan:
    """What a run sends, what it holds back until working hours, and what cannot be sent."""

    outgoing: list[Outgoing] = field(default_factory=list)
    held: int = 0
    problems: list[str] = field(default_factory=list)


def team_slack(
    routing: Routing, team: str | None, default_webhook: str | None, fallback: bool
) -> SlackTarget | None:
    """Return the Slack target of ``team`` (its webhook, else its channel, else the default webhook if ``fallback``)."""
    route = routing.team(team)
    if route.slack_webhook_url:
        return SlackTarget(
            f"team {team}", f"[accord.alerts] teams.{team}.slack_webhook_url", route.slack_webhook_url
        )
    if route.slack_channel:
        return SlackTarget(
            f"team {team}", f"[accord.alerts] teams.{team}.slack_channel", channel=route.slack_channel
        )
    if fallback and default_webhook:
        return SlackTarget("the default channel", DEFAULT_WEBHOOK, default_webhook)
    return None


def plan_alerts(
    agreement: str,
    doc: Agreement,
    alerts: pd.DataFrame,
    queue: pd.DataFrame,
    owners: pd.DataFrame,
    routing: Routing,
    as_of: pd.Timestamp,
    *,
    default_webhook: str | None = None,
    digest: tuple[str, Message] | None = None,
) -> Plan:
    """Return the :class:`Plan` of one agreement at ``as_of``.

    ``alerts`` come from :func:`alerts.rules.lead_alerts`, ``queue`` from
    :func:`alerts.rules.queue_leads`, ``owners`` is the canonical owners frame, ``digest`` the
    ``(week, message)`` of a digest that is due.
    """
    plan = Plan()
    emails = _owner_emails(owners)
    no_email: Counter = Counter()
    open_now: dict[str | None, bool] = {}

    def working(team: str | None) -> bool:
        if team not in open_now:
            open_now[team] = at_work(doc.calendar_for(team), as_of)
        return open_now[team]

    def add(
        delivery: Delivery, message: Message, team: str | None, *, email=None, slack=None, pack=False
    ) -> None:
        if email and not routing.wants(email, delivery.kind):
            return
        if not working(team) and not (email and routing.any_hour(email)):
            plan.held += 1
            return
        plan.outgoing.append(Outgoing(delivery, message, email, slack, pack))

    for row in alerts.to_dict("records"):
        team = row["team"] if isinstance(row["team"], str) else None
        tz = doc.calendar_for(team).timezone
        message = lead_message(row, tz, routing.crm_record_url, agreement)
        lead = int(row["lead_id"])

        def key(channel: str, recipient: str, row=row, lead=lead) -> Delivery:
            return Delivery(agreement, row["kind"], row["commitment"], lead, f"lead {lead}", row["window"], channel,
                            recipient)  # fmt: skip

        owner_id = row["owner_id"]
        address = emails.get(int(owner_id)) if pd.notna(owner_id) else None
        if address:
            add(key("email", address), message, team, email=address)
        else:
            no_email[(row["owner"] if isinstance(row["owner"], str) else None, owner_id, row["kind"])] += 1
        if row["kind"] == BREACHED:
            for manager in routing.team(team).managers:
                add(key("email", manager), message, team, email=manager)
            target = team_slack(routing, team, default_webhook, fallback=True)
            if target is not None:
                add(key("slack", target.label), message, team, slack=target)

    for (owner, owner_id, kind), count in sorted(no_email.items(), key=str):
        who = f"owner {owner!r} (id {int(owner_id)})" if pd.notna(owner_id) else "no owner"
        what = "due-soon" if kind == DUE_SOON else "breach"
        plan.problems.append(
            f"{who} has no e-mail address in the CRM (owners.email): {count} {what} alert(s) for them not sent"
            if pd.notna(owner_id)
            else f"{count} {what} alert(s) about leads without an owner not sent to an owner"
        )

    if len(queue):
        teams = queue["team"].astype(object).where(queue["team"].notna(), None)
        for team in sorted(set(teams), key=str):
            route = routing.team(team)
            target = team_slack(routing, team, None, fallback=False)
            if not route.managers and target is None:
                continue
            cal = doc.calendar_for(team)
            day = daily_queue_due(cal, as_of, routing.daily_queue_at)
            if day is None:
                continue
            rows = queue[(teams == team).to_numpy()].drop_duplicates("lead_id")
            message = queue_message(str(team), day, rows, cal.timezone, routing.crm_record_url, agreement)
            for manager in route.managers:
                add(Delivery(agreement, DAILY_QUEUE, None, None, f"team {team}", day, "email", manager),
                    message, team, email=manager)  # fmt: skip
            if target is not None:
                add(Delivery(agreement, DAILY_QUEUE, None, None, f"team {team}", day, "slack", target.label),
                    message, team, slack=target)  # fmt: skip

    if digest is not None:
        week, message = digest
        for person in routing.digest_to:
            add(Delivery(agreement, WEEKLY_DIGEST, None, None, "agreement", week, "email", person), message, None,
                email=person, pack=True)  # fmt: skip
        if default_webhook:
            target = SlackTarget("the default channel", DEFAULT_WEBHOOK, default_webhook)
            add(Delivery(agreement, WEEKLY_DIGEST, None, None, "agreement", week, "slack", target.label), message,
                None, slack=target)  # fmt: skip
    return plan


def _owner_emails(owners: pd.DataFrame) -> dict[int, str]:
    if owners is None or owners.empty or "email" not in owners.columns:
        return {}
    rows = owners.dropna(subset=["id", "email"])
    rows = rows[rows["email"].astype(str).str.contains("@")]
    return {int(i): str(e).strip().lower() for i, e in zip(rows["id"], rows["email"], strict=True)}
