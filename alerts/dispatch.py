"""One alerts run: read what is due from the database, claim each alert in the ledger, send it, record it.

The run holds the one-running-run lock of the connector ``alerts`` (``data.syncs.start_run``), so two
cron runs never work at once; the ledger's unique key would keep an alert to one send even without it.
A send that fails for a reason that may pass (a server down, a 5xx, a timeout) is tried again within the
run with growing pauses; then it is recorded as failed and a later run tries again (see
:mod:`alerts.ledger`). Settings arrive as an :class:`AlertSettings`; nothing here reads them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.engine import Engine

from alerts import ledger
from alerts.email import Attachment, ChannelError, SmtpConfig, build_message, send_email
from alerts.messages import KIND_LABELS, Message, digest_message
from alerts.plan import Outgoing, Plan, plan_alerts
from alerts.routing import Routing
from alerts.rules import lead_alerts, open_details, queue_leads, weekly_digest_due
from alerts.slack import send_slack
from analytics.commitments import document_in_force
from data import journal, queries, syncs, transactions

CONNECTOR = "alerts"
ACTOR = "Accord alerts"
READ_BACK = pd.Timedelta(days=35)  # handovers older than this are neither due soon nor newly breached
SEND_TRIES = 3


@dataclass(frozen=True)
class AlertSettings:
    """The settings a run uses (from ``settings.py`` in the CLI, explicit in tests)."""

    smtp: SmtpConfig
    slack_webhook_url: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_api_url: str | None = None
    lead_time_hours: float = 1.0

    def secrets(self) -> list[str]:
        """The secret values, to keep out of every line a run prints or stores."""
        return [s for s in (self.smtp.password, self.slack_webhook_url, self.slack_bot_token) if s]


@dataclass
class RunReport:
    """What a run did: counts, the lines it says, and the problems to fix."""

    sent: int = 0
    failed: int = 0
    held: int = 0
    already: int = 0
    unknown: int = 0
    lines: list[str] = field(default_factory=list)  # what was (or would be) sent
    errors: list[str] = field(default_factory=list)  # sends that failed, one line each
    problems: list[str] = field(default_factory=list)  # configuration or data to fix, one line each

    def counts(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "held": self.held, "already": self.already,
                "unknown": self.unknown}  # fmt: skip


def read_frames(engine: Engine, as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Return the owners and the leads handed over in the :data:`READ_BACK` days up to ``as_of``."""
    from data.frames import ANALYTICS_COLUMNS, all_columns

    columns = (*ANALYTICS_COLUMNS["leads"], "source")
    leads = queries.read_leads(
        engine, as_of - READ_BACK, as_of + pd.Timedelta(microseconds=1), columns=columns
    )
    return {"owners": queries.read_owners(engine), "leads": all_columns(leads, "leads")}


def digest_of(engine: Engine, agreement: str, as_of: pd.Timestamp) -> tuple[str, Message]:
    """Return the last closed week of ``agreement`` at ``as_of`` and its digest message (the Overview's words)."""
    from analytics.periods import last_closed_week
    from analytics.wording import week_dates
    from reports.weeks import load_view, versions_of
    from views.overview import scoreboard

    doc = document_in_force(versions_of(engine, agreement), as_of)
    week = last_closed_week(as_of, doc.timezone)
    # The Overview's view: the digest says what the page says.
    page = load_view(engine, agreement, week, as_of)
    view = page.overview
    board = scoreboard(view.week_rows(), view.changes, view.period_rows(), previous_week=view.previous_week,
                       currency=doc.currency)  # fmt: skip
    gaps = [gap.sentence for gap in page.gaps]
    return week, digest_message(agreement, week, week_dates(week), board, gaps)


def plan_run(
    engine: Engine,
    settings: AlertSettings,
    routing: Routing,
    as_of: pd.Timestamp,
    *,
    include_demo: bool = False,
) -> list[tuple[str, Plan]]:
    """Return ``(agreement, plan)`` for every saved agreement at ``as_of``."""
    from reports.weeks import versions_of

    names = sorted(journal.read_agreement_versions(engine)["agreement"].unique().tolist())
    frames = read_frames(engine, as_of) if names else {}
    plans = []
    for name in names:
        versions = versions_of(engine, name)
        doc = document_in_force(versions, as_of)
        details = open_details(versions, frames, as_of, include_demo=include_demo)
        alerts = lead_alerts(
            versions, frames, as_of, lead_time_hours=settings.lead_time_hours, details=details
        )
        queue = queue_leads(versions, frames, as_of, details=details)
        digest = None
        wants_digest = routing.digest_to or settings.slack_webhook_url
        demo_only = not include_demo and _demo_only(frames["leads"])
        if (
            wants_digest
            and not demo_only
            and weekly_digest_due(doc.calendar_for(None), as_of, routing.digest_at)
        ):
            digest = digest_of(engine, name, as_of)
        plan = plan_alerts(name, doc, alerts, queue, frames["owners"], routing, as_of,
                           default_webhook=settings.slack_webhook_url, digest=digest)  # fmt: skip
        plans.append((name, plan))
    return plans


def run_alerts(
    engine: Engine,
    settings: AlertSettings,
    routing: Routing,
    as_of: pd.Timestamp,
    *,
    dry_run: bool = False,
    include_demo: bool = False,
    pack: Callable[[str, str], bytes] | None = None,
    say: Callable[[str], None] = print,
    backoff: float = 1.0,
    now: Callable[[], dt.datetime] | None = None,
) -> RunReport:
    """Evaluate and send every alert due at ``as_of``; returns the :class:`RunReport`.

    ``dry_run`` sends and records nothing and says what would be sent. ``pack(agreement, week)`` returns
    the meeting pack PDF attached to the digest e-mail (none when not given). ``now`` is the wall clock
    of the ledger's timestamps (default: the real one; tests pass ``as_of``).
    """
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    report = RunReport()
    if dry_run:
        for name, plan in plan_run(engine, settings, routing, as_of, include_demo=include_demo):
            report.held += plan.held
            report.problems += plan.problems
            done = ledger.known(engine, [o.delivery for o in plan.outgoing])
            for out in plan.outgoing:
                if done.get(out.delivery.fingerprint) in ("sent", "sending", "unknown"):
                    report.already += 1
                    continue
                report.lines.append(f"would send: {_describe(name, out)}")
                say(report.lines[-1])
        return report

    run_id = syncs.start_run(engine, CONNECTOR, "send")
    try:
        with syncs.keep_alive(engine, run_id):
            report.unknown = ledger.settle_interrupted(engine, run_id)
            if report.unknown:
                say(f"warning: {report.unknown} alert(s) were being sent when an earlier run stopped; "
                    "they are marked 'unknown' and not sent again")  # fmt: skip
            packs: dict[tuple[str, str], bytes | None] = {}
            for name, plan in plan_run(engine, settings, routing, as_of, include_demo=include_demo):
                report.held += plan.held
                report.problems += plan.problems
                for out in plan.outgoing:
                    _deliver(engine, settings, name, out, run_id, report, packs, pack, say, backoff, clock)
    except BaseException as exc:
        syncs.finish_run(
            engine, run_id, "failed", report.counts(), _clean(str(exc) or type(exc).__name__, settings)
        )
        raise
    status = "failed" if report.failed else "ok"
    error = "; ".join(report.errors + report.problems)[:2000] or None
    syncs.finish_run(engine, run_id, status, report.counts(), error)
    return report


def _deliver(engine, settings, name, out: Outgoing, run_id, report, packs, pack, say, backoff, clock) -> None:
    row_id = ledger.claim(engine, out.delivery, run_id, clock())
    if row_id is None:
        report.already += 1
        return
    error: ChannelError | None = None
    for attempt in range(SEND_TRIES):
        try:
            _send(settings, name, out, packs, pack, report)
            error = None
            break
        except ChannelError as exc:
            error = exc
            if not exc.retry or attempt == SEND_TRIES - 1:
                break
            time.sleep(backoff * 2**attempt)
    if error is None:
        ledger.mark_sent(engine, row_id, clock())
        report.sent += 1
        d = out.delivery
        journal.add_audit(engine, ACTOR, "alert.send", d.subject,
                       {"agreement": name, "kind": d.kind, "channel": d.channel, "recipient": d.recipient,
                        "window": d.window, "commitment": d.commitment})  # fmt: skip
        report.lines.append(f"sent: {_describe(name, out)}")
        say(report.lines[-1])
        return
    text = _clean(str(error), settings)
    retry = ledger.mark_failed(engine, row_id, text, clock())
    report.failed += 1
    later = f"; tried again after {retry:%Y-%m-%d %H:%M} UTC" if retry else "; not tried again"
    line = f"error: {KIND_LABELS.get(out.delivery.kind, out.delivery.kind)} to {out.delivery.recipient}: {text}{later}"
    report.errors.append(line)
    say(line)


def _made_pack(pack, name: str, week: str, report: RunReport) -> bytes | None:
    """The meeting pack of ``week``, or None (and a problem line) when it cannot be made: the digest still goes."""
    from analytics.agreement import AgreementError
    from analytics.commitments import EvaluationError
    from analytics.snapshots import SnapshotError

    try:
        return pack(name, week)
    except (
        SnapshotError,
        AgreementError,
        EvaluationError,
        transactions.StorageError,
        OSError,
        RuntimeError,
    ) as exc:
        report.problems.append(
            f"the meeting pack of {week} could not be made ({exc}); the digest goes without it"
        )
        return None


def _send(settings: AlertSettings, name: str, out: Outgoing, packs, pack, report: RunReport) -> None:
    message = out.message
    if out.email:
        attachments = []
        if out.attach_pack and pack is not None:
            key = (name, out.delivery.window)
            if key not in packs:
                packs[key] = _made_pack(pack, name, out.delivery.window, report)
            if packs[key]:
                attachments.append(Attachment(f"meeting-pack-{out.delivery.window}.pdf", packs[key]))
        email = build_message(settings.smtp.sender, out.email, message.subject, message.text, message.html,
                              attachments)  # fmt: skip
        send_email(settings.smtp, email)
    elif out.slack is not None:
        send_slack(out.slack, message.subject, message.blocks, bot_token=settings.slack_bot_token,
                   api_url=settings.slack_api_url)  # fmt: skip
    else:  # pragma: no cover - plan_alerts always sets one
        raise ChannelError("an alert without an address or Slack target", retry=False)


def _describe(agreement: str, out: Outgoing) -> str:
    d = out.delivery
    return f"{KIND_LABELS.get(d.kind, d.kind)} ({agreement}, {d.subject}) to {d.recipient} by {d.channel}: {out.message.subject}"


def _demo_only(leads: pd.DataFrame) -> bool:
    return bool(len(leads)) and bool((leads["source"] == "demo").all())


def _clean(text: str, settings: AlertSettings) -> str:
    from settings import mask

    for secret in settings.secrets():
        text = text.replace(secret, mask(secret))
    return " ".join(text.split())
