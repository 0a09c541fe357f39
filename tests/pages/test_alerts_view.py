"""Alerts in the product: the Data page's alert panel (AppTest) and the Sales queue's "alerted" mark."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from alerts import ledger
from alerts.ledger import Delivery
from data import journal
from data.engine import make_engine
from pages.components import alerts_view
from tests.alerts import conftest as alert_fixtures
from tests.pages import test_data_page as data_page
from tests.pages.test_data_page import open_data_page, rendered_bytes, texts

# The Data page tests' fixtures (a private copy of the demo database, the app's settings) and the SMTP server.
demo_copy_url, app_env, mail_server = data_page.demo_copy_url, data_page.app_env, alert_fixtures.mail_server

WEBHOOK = "https://hooks.slack.com/services/T000/B000/team-emea-webhook-secret"
DEFAULT_WEBHOOK = "https://hooks.slack.com/services/T000/B111/default-webhook-secret"
NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)


def _configure(monkeypatch, tmp_path, mail_port: int | None = None):
    import settings

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[accord.alerts]\ndigest_to = ["ceo@example.com"]\n[accord.alerts.teams.EMEA]\n'
                       f'managers = ["lead.emea@example.com"]\nslack_webhook_url = "{WEBHOOK}"\n')  # fmt: skip
    monkeypatch.setattr(settings, "SECRETS_FILE", secrets)
    monkeypatch.setenv("ACCORD_SLACK_WEBHOOK_URL", DEFAULT_WEBHOOK)
    if mail_port is not None:
        monkeypatch.setenv("ACCORD_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ACCORD_SMTP_PORT", str(mail_port))
        monkeypatch.setenv("ACCORD_SMTP_STARTTLS", "false")


def _ledger_rows(url: str) -> None:
    engine = make_engine(url)
    ok = ledger.claim(
        engine, Delivery("SLA", "breached", "speed", 5, "lead 5", "w", "email", "ann@example.com"), 1, NOW
    )
    ledger.mark_sent(engine, ok, NOW)
    bad = ledger.claim(
        engine, Delivery("SLA", "breached", "speed", 5, "lead 5", "w", "slack", "team EMEA"), 1, NOW
    )
    ledger.mark_failed(engine, bad, "Slack webhook of team EMEA answered 404 'no_service': check it", NOW)
    engine.dispose()


def test_the_data_page_shows_routing_history_and_failures_without_secrets(app_env, monkeypatch, tmp_path):
    _configure(monkeypatch, tmp_path)
    _ledger_rows(app_env)
    at = open_data_page()
    shown = texts(at)
    assert "team EMEA: managers lead.emea@example.com; Slack webhook" in shown
    assert "Slack default channel: `" not in shown and "http…cret" in shown  # masked
    assert "off (ACCORD_SMTP_HOST is not set)" in shown
    assert "1 of the last 2 alerts did not go out" in shown
    failures, history = [d.value for d in at.dataframe if "recipient" in d.value.columns]
    assert sorted(history["status"]) == ["failed", "sent"] and set(history["kind"]) == {"breached"}
    assert failures["status"].tolist() == ["failed"] and failures["error"].str.contains("404").all()
    page = rendered_bytes(at)
    for secret in (WEBHOOK, DEFAULT_WEBHOOK, "team-emea-webhook-secret", "default-webhook-secret"):
        assert secret.encode() not in page


def test_send_a_test_alert_by_email_reaches_the_server_and_the_audit(
    app_env, monkeypatch, tmp_path, mail_server
):
    _configure(monkeypatch, tmp_path, mail_server.port)
    at = open_data_page()
    at.text_input(key="alerts_test_address").input("ops@example.com")
    at.button(key="FormSubmitter:alerts_test_form-Send a test alert").click().run()
    assert not at.exception, at.exception
    assert "Test alert sent to ops@example.com." in [s.value for s in at.success]
    [mail] = mail_server.received
    assert mail["Subject"] == "Accord test alert" and mail["To"] == "ops@example.com"
    audit = journal.read_audit(make_engine(app_env))
    assert audit.iloc[0]["action"] == "alert.test" and audit.iloc[0]["target"] == "ops@example.com"


def test_a_test_alert_without_smtp_is_one_error_naming_the_setting(app_env, monkeypatch, tmp_path):
    _configure(monkeypatch, tmp_path)
    at = open_data_page()
    at.text_input(key="alerts_test_address").input("ops@example.com")
    at.button(key="FormSubmitter:alerts_test_form-Send a test alert").click().run()
    assert [e.value for e in at.error] == ["ACCORD_SMTP_HOST is not set: no e-mail alert can be sent"]


def test_the_sales_queue_marks_alerted_leads(app_env, monkeypatch):
    _ledger_rows(app_env)
    queue = pd.DataFrame({"lead": ["L5", "L6"], "lead_id": [5, 6], "state": ["overdue", "due soon"]})
    marked = alerts_view.mark_alerted(queue)
    assert marked["state"].tolist() == ["overdue · alerted 12-07 09:30 UTC (breached)", "due soon"]
    assert queue["state"].tolist() == ["overdue", "due soon"]  # the input is left as it was
