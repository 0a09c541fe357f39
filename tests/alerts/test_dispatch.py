"""A whole alerts run on SQLite and PostgreSQL: what goes where, once, and what is held, refused or failed."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from alerts import ledger
from alerts.dispatch import AlertSettings, run_alerts
from alerts.email import SmtpConfig
from alerts.routing import parse_routing
from data import journal, syncs
from tests.alerts.seed import AT_1230, AT_1600, routing_toml, seed_company

PASSWORD = "smtp-secret-password-77"
TOKEN = "xoxb-test-token-0123456789"


def _setup(engine, mail_server, slack, **overrides):
    import tomllib

    seed_company(engine)
    routing = parse_routing(tomllib.loads(routing_toml(slack.webhook("emea")))["accord"]["alerts"])
    config = AlertSettings(
        SmtpConfig(
            "127.0.0.1", mail_server.port, None, PASSWORD, "Accord <alerts@example.com>", starttls=False
        ),
        slack_webhook_url=overrides.get("default_webhook", slack.webhook("default")),
        slack_bot_token=TOKEN,
        slack_api_url=slack.api_url,
    )
    return routing, config


def _run(engine, config, routing, at, lines=None, **kw):
    said = [] if lines is None else lines
    return run_alerts(engine, config, routing, at, say=said.append, backoff=0.01,
                      now=lambda: at.to_pydatetime(), **kw)  # fmt: skip


def _mails(server) -> list[tuple[str, str]]:
    return sorted((m["To"], m["Subject"]) for m in server.received)


def test_a_run_sends_each_due_alert_once_to_the_right_people(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    pdf = b"%PDF-1.4 pack"
    said: list[str] = []
    report = _run(engine, config, routing, AT_1230, said, pack=lambda agreement, week: pdf)
    assert _mails(mail_server) == [
        ("ann@example.com", "Follow up lead L1 by Mon 07 Dec 13:00"),
        ("ann@example.com", "Missed: lead L2 was not followed up in time"),
        ("ceo@example.com", "SLA: week 2026-W49 (30 November – 6 December 2026)"),
        ("lead.emea@example.com", "EMEA: 1 overdue, 2 due today (2026-12-07)"),
        ("lead.emea@example.com", "Missed: lead L2 was not followed up in time"),
    ]
    posts = sorted((p["hook"].split("/")[1], p["text"]) for p in slack.posts)
    assert posts == [("Bdefault", "SLA: week 2026-W49 (30 November – 6 December 2026)"),
                     ("Bemea", "EMEA: 1 overdue, 2 due today (2026-12-07)"),
                     ("Bemea", "Missed: lead L2 was not followed up in time")]  # fmt: skip
    assert report.sent == 8 and report.failed == 0
    assert report.held == 1  # Bob's lead: 06:30 in New York
    assert report.problems == ["owner 'Cy' (id 3) has no e-mail address in the CRM (owners.email): "
                               "1 due-soon alert(s) for them not sent"]  # fmt: skip
    # The digest carries the meeting pack; a lead links to its CRM record.
    digest = next(m for m in mail_server.received if m["To"] == "ceo@example.com")
    assert [a.get_content() for a in digest.iter_attachments()] == [pdf]
    breach = next(m for m in mail_server.received if m["Subject"].startswith("Missed"))
    assert "https://app.hubspot.com/contacts/42/record/0-1/L2" in breach.get_body(("html",)).get_content()
    assert "https://app.hubspot.com/contacts/42/record/0-1/L2" in breach.get_body(("plain",)).get_content()
    blocks = next(p for p in slack.posts if p["text"].startswith("Missed"))["blocks"]
    assert "<https://app.hubspot.com/contacts/42/record/0-1/L2|lead L2>" in blocks[1]["text"]["text"]
    # Nothing about demo data; every send is in the ledger and the audit trail.
    assert not any("D1" in m["Subject"] for m in mail_server.received)
    rows = ledger.read_ledger(engine)
    assert len(rows) == 8 and set(rows["status"]) == {"sent"}
    audit = journal.read_audit(engine)
    assert (audit["action"] == "alert.send").sum() == 8
    assert len([line for line in said if line.startswith("sent: ")]) == 8

    again = _run(engine, config, routing, AT_1230)
    assert again.sent == 0 and again.already == 8 and len(mail_server.received) == 5 and len(slack.posts) == 3


def test_later_in_the_day_new_alerts_go_and_old_ones_do_not_repeat(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    _run(engine, config, routing, AT_1230)
    first_mails, first_posts = len(mail_server.received), len(slack.posts)
    report = _run(engine, config, routing, AT_1600)  # 10:00 in New York
    # L1 and L3 breached at 13:00 (Cy has no address: his manager and the team channel still hear),
    # Bob's L4 is due at 10:00 New York, and team US's queue is due there now.
    assert report.sent == 7 and report.held == 0
    new_mails = sorted((m["To"], m["Subject"]) for m in mail_server.received[first_mails:])
    assert new_mails == [
        ("ann@example.com", "Missed: lead L1 was not followed up in time"),
        ("bob@example.com", "Follow up lead L4 by Mon 07 Dec 10:00"),
        ("lead.emea@example.com", "Missed: lead L1 was not followed up in time"),
        ("lead.emea@example.com", "Missed: lead L3 was not followed up in time"),
    ]
    api = [p for p in slack.posts[first_posts:] if p["via"] == "api"]
    assert [(p["channel"], p["text"]) for p in api] == [
        ("#us-sales", "US: 0 overdue, 1 due today (2026-12-07)")
    ]
    assert len(slack.posts) == first_posts + 3


def test_demo_data_is_alerted_only_when_asked(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    _run(engine, config, routing, AT_1230, include_demo=True)
    assert ("ann@example.com", "Follow up lead D1 by Mon 07 Dec 13:00") in _mails(mail_server)


def test_opt_outs_and_after_hours_opt_ins(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    routing = parse_routing({"teams": {"US": {"managers": ["boss.us@example.com"]}},
                             "opt_out": {"ann@example.com": ["due_soon"]},
                             "after_hours": ["bob@example.com"]})  # fmt: skip
    _run(engine, config, routing, AT_1230)
    mails = _mails(mail_server)
    assert ("ann@example.com", "Follow up lead L1 by Mon 07 Dec 13:00") not in mails  # opted out
    assert ("ann@example.com", "Missed: lead L2 was not followed up in time") in mails  # still wants breaches
    assert (
        "bob@example.com",
        "Follow up lead L4 by Mon 07 Dec 10:00",
    ) in mails  # 06:30 for Bob, who opted in


def test_bad_configuration_is_one_line_and_the_rest_still_go(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    slack.hooks.discard(next(h for h in slack.hooks if "emea" in h))  # the EMEA webhook now answers 404
    said: list[str] = []
    report = _run(engine, config, routing, AT_1230, said)
    assert report.failed == 2 and report.sent == 6
    errors = [line for line in said if line.startswith("error:")]
    assert len(errors) == 2
    assert all("answered 404" in e and "[accord.alerts] teams.EMEA.slack_webhook_url" in e for e in errors)
    assert len(mail_server.received) == 5  # every e-mail still went
    failed = ledger.read_ledger(engine, status="failed")
    assert len(failed) == 2 and failed["error"].str.contains("404").all()
    # The hook is fixed: the next run after the backoff sends the two, and only those.
    slack.webhook("emea")
    later = AT_1230 + pd.Timedelta(minutes=6)
    report = _run(engine, config, routing, later)
    assert report.sent == 2 and len(slack.posts) == 3


def test_no_smtp_host_fails_the_mails_with_one_line_and_slack_still_goes(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    config = AlertSettings(SmtpConfig(None), config.slack_webhook_url, TOKEN, slack.api_url)
    said: list[str] = []
    report = _run(engine, config, routing, AT_1230, said)
    assert report.sent == 3 and report.failed == 5 and len(slack.posts) == 3
    assert {line.split(": ", 2)[2] for line in said if line.startswith("error")} == {
        "ACCORD_SMTP_HOST is not set: no e-mail alert can be sent; tried again after 2026-12-07 11:35 UTC"
    }


def test_a_transient_failure_is_retried_within_the_run(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    slack.rate_limit, slack.retry_after = 1, 0
    report = _run(engine, config, routing, AT_1230)
    assert report.sent == 8 and len(slack.limited) == 1


def test_a_dry_run_says_what_would_go_and_sends_and_records_nothing(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    said: list[str] = []
    report = _run(engine, config, routing, AT_1230, said, dry_run=True)
    assert len(said) == 8 and all(line.startswith("would send: ") for line in said)
    assert report.sent == 0 and mail_server.received == [] and slack.posts == []
    assert ledger.read_ledger(engine).empty and syncs.read_sync_runs(engine).empty


def test_secrets_never_reach_output_ledger_runs_or_audit(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    slack.hooks.clear()  # every webhook answers 404: their errors are recorded
    said: list[str] = []
    _run(engine, config, routing, AT_1230, said)
    secrets = [
        PASSWORD,
        TOKEN,
        config.slack_webhook_url,
        *[r.slack_webhook_url for r in routing.teams.values() if r.slack_webhook_url],
    ]
    secrets += [s.rsplit("/", 1)[1] for s in secrets if "/" in s]
    stored = []
    with engine.connect() as conn:
        for table in ("alert_ledger", "audit_log", "sync_runs"):
            stored += [str(tuple(r)) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    everything = "\n".join(said + stored + [str(config), str(routing.teams)])
    assert stored and said
    for secret in secrets:
        assert secret not in everything


def test_a_run_takes_the_alerts_lock(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)
    run = syncs.start_run(engine, "alerts", "send")
    with pytest.raises(syncs.RunBusyError, match="alerts run"):
        _run(engine, config, routing, AT_1230)
    syncs.finish_run(engine, run, "ok")
    assert _run(engine, config, routing, AT_1230).sent == 8
    assert syncs.read_sync_runs(engine)["status"].tolist() == ["ok", "ok"]


def test_a_meeting_pack_that_cannot_be_made_leaves_the_digest_without_it(engine, mail_server, slack):
    routing, config = _setup(engine, mail_server, slack)

    def broken(agreement, week):
        raise RuntimeError("chromium is not installed")

    report = _run(engine, config, routing, AT_1230, pack=broken)
    digest = next(m for m in mail_server.received if m["To"] == "ceo@example.com")
    assert list(digest.iter_attachments()) == [] and report.sent == 8
    assert "the meeting pack of 2026-W49 could not be made (chromium is not installed)" in report.problems[-1]
