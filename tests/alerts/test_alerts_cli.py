"""``python cli.py alerts`` as cron runs it: a subprocess, settings from the environment, routing from a file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import settings
from alerts import ledger
from data.engine import make_engine, upgrade
from tests.alerts.seed import AT_1230, routing_toml, seed_company
from tests.conftest import migrated_engine

PASSWORD = "cli-smtp-password-31337"
TOKEN = "xoxb-cli-token-99999999"


def cli(url: str, secrets, *args: str, env_extra=None, **popen) -> subprocess.Popen:
    """Start ``cli.py alerts`` on database ``url`` with routing file ``secrets``."""
    env = {**os.environ, "ACCORD_DATABASE_URL": url, **(env_extra or {})}
    for name in ("ACCORD_SMTP_HOST", "ACCORD_SLACK_WEBHOOK_URL", "ACCORD_SLACK_BOT_TOKEN"):
        if env_extra is None or name not in env_extra:
            env.pop(name, None)
    command = [sys.executable, str(settings.ROOT / "cli.py"), "alerts", "--secrets", str(secrets), *args]
    return subprocess.Popen(command, cwd=settings.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)  # fmt: skip


def smtp_env(mail_server, slack) -> dict[str, str]:
    return {"ACCORD_SMTP_HOST": "127.0.0.1", "ACCORD_SMTP_PORT": str(mail_server.port), "ACCORD_SMTP_STARTTLS": "false",
            "ACCORD_SMTP_PASSWORD": PASSWORD, "ACCORD_SLACK_WEBHOOK_URL": slack.webhook("default"),
            "ACCORD_SLACK_BOT_TOKEN": TOKEN}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded_url(request, tmp_path):
    engine = migrated_engine(request.param, tmp_path)
    seed_company(engine)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    return url


def test_cli_sends_then_a_rerun_sends_nothing(seeded_url, tmp_path, mail_server, slack):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(routing_toml(slack.webhook("emea")))
    env = smtp_env(mail_server, slack)
    at = AT_1230.isoformat()
    dry = cli(seeded_url, secrets, "--now", at, "--dry-run", env_extra=env)
    out, err = dry.communicate(timeout=120)
    assert dry.returncode == 0, err
    assert out.count("would send: ") == 8 and mail_server.received == []
    assert "Cy" in err and "owners.email" in err  # the owner without an address: one warning line

    first = cli(seeded_url, secrets, "--now", at, env_extra=env)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert "8 sent, 0 failed" in out and len(mail_server.received) == 5 and len(slack.posts) == 3
    digest = next(m for m in mail_server.received if m["To"] == "ceo@example.com")
    [pack] = list(digest.iter_attachments())  # the real meeting pack, without charts (no browser)
    assert pack.get_filename() == "meeting-pack-2026-W49.pdf" and pack.get_content().startswith(b"%PDF")
    assert "Speed to lead" in digest.get_body(("plain",)).get_content()
    again = cli(seeded_url, secrets, "--now", "2026-12-07T12:30+01:00", env_extra=env)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0 and "0 sent, 0 failed, 8 already sent" in out
    for secret in (PASSWORD, TOKEN, env["ACCORD_SLACK_WEBHOOK_URL"], "emeasecret"):
        assert secret not in out + err


def test_cli_bad_configuration_exits_1_with_lines_naming_the_settings(
    seeded_url, tmp_path, mail_server, slack
):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(routing_toml(f"http://127.0.0.1:{slack.port}/services/T000/Bgone/nothing-here-secret"))
    env = smtp_env(mail_server, slack)
    del env["ACCORD_SMTP_HOST"]
    run = cli(seeded_url, secrets, "--now", AT_1230.isoformat(), env_extra=env)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 1
    lines = err.strip().splitlines()
    assert sum("ACCORD_SMTP_HOST is not set" in line for line in lines) == 5
    assert sum("[accord.alerts] teams.EMEA.slack_webhook_url" in line for line in lines) == 2
    assert "1 sent, 7 failed" in out  # the digest still reached the default channel
    assert "nothing-here-secret" not in out + err and "Traceback" not in err


def test_cli_refuses_a_bad_routing_file_naming_the_key(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[accord.alerts]\ndaily_queue_at = "half past eight"\n')
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(make_engine(url))
    run = cli(url, secrets)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 1
    assert err.strip() == ("error: [accord.alerts] daily_queue_at: a time of day must be HH:MM (e.g. 08:30), "
                           "got 'half past eight'")  # fmt: skip


def test_cli_refuses_a_bad_lead_time(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    run = cli(url, tmp_path / "none.toml", env_extra={"ACCORD_ALERT_LEAD_TIME": "soon"})
    _, err = run.communicate(timeout=60)
    assert run.returncode == 1 and "ACCORD_ALERT_LEAD_TIME must be a number of business hours" in err


def test_ledger_is_empty_after_a_dry_run(tmp_path, mail_server, slack):
    engine = migrated_engine("sqlite", tmp_path)
    seed_company(engine)
    url = engine.url.render_as_string(hide_password=False)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(routing_toml(slack.webhook("emea")))
    run = cli(url, secrets, "--now", AT_1230.isoformat(), "--dry-run", env_extra=smtp_env(mail_server, slack))
    run.communicate(timeout=120)
    assert ledger.read_ledger(engine).empty
