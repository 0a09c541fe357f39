"""Drills for ``cli.py alerts``: ``kill -9`` in the middle of sending, then a rerun; two runs started at once.

The SMTP server (aiosmtpd, in this process) holds each accepted message for a moment before it says
"250", so the kill lands where it hurts: a message accepted, its ledger row still ``sending``. The
rerun marks that row ``unknown`` and does not send it again; everything not yet sent goes once.
"""

from __future__ import annotations

import collections
import os
import signal
import time

import pytest

from alerts import ledger
from tests.alerts.seed import AT_1230, routing_toml, seed_company
from tests.alerts.servers import FakeSlack, MailServer
from tests.alerts.test_alerts_cli import cli, smtp_env
from tests.conftest import migrated_engine

EXTRA = 30  # more due-soon leads of Ann's: 30 more e-mails to her
EXPECTED_MAILS = 5 + EXTRA
pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def company(request, tmp_path):
    engine = migrated_engine(request.param, tmp_path)
    seed_company(engine, extra_leads=EXTRA)
    yield engine, engine.url.render_as_string(hide_password=False)
    engine.dispose()


@pytest.fixture
def slow_mail():
    server = MailServer(delay=0.25).start()
    yield server
    server.stop()


@pytest.fixture
def slack_server():
    server = FakeSlack().start()
    yield server
    server.stop()


def _counts(server) -> collections.Counter:
    return collections.Counter((m["To"], m["Subject"]) for m in server.received)


def test_kill_9_mid_run_then_rerun_sends_each_alert_once(company, tmp_path, slow_mail, slack_server):
    engine, url = company
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(routing_toml(slack_server.webhook("emea")))
    env = smtp_env(slow_mail, slack_server)
    run = cli(url, secrets, "--now", AT_1230.isoformat(), env_extra=env)
    deadline = time.monotonic() + 120
    while len(slow_mail.received) < 10 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.02)
    assert run.poll() is None, "the run ended before it could be killed"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    got_before = len(slow_mail.received)
    assert 10 <= got_before < EXPECTED_MAILS

    rerun = cli(url, secrets, "--now", AT_1230.isoformat(), env_extra=env)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    counts = _counts(slow_mail)
    assert max(counts.values()) == 1, [k for k, n in counts.items() if n > 1]  # nothing twice
    rows = ledger.read_ledger(engine, limit=None)
    # The message in flight at the kill had been accepted: its row is "unknown", it was not sent again,
    # and the rerun says so. Every other alert went exactly once.
    assert rows["status"].value_counts().to_dict() == {"sent": EXPECTED_MAILS + 3 - 1, "unknown": 1}
    assert "were being sent when an earlier run stopped" in err
    assert len(slow_mail.received) == EXPECTED_MAILS and len(slack_server.posts) == 3


def test_two_runs_at_once_send_each_alert_once(company, tmp_path, slow_mail, slack_server):
    engine, url = company
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(routing_toml(slack_server.webhook("emea")))
    env = smtp_env(slow_mail, slack_server)
    runs = [cli(url, secrets, "--now", AT_1230.isoformat(), env_extra=env) for _ in range(2)]
    results = [r.communicate(timeout=300) for r in runs]
    codes = sorted(r.returncode for r in runs)
    # Either one found the other running (exit 75, told to try later) or they ran one after the other.
    assert codes in ([0, 0], [0, 75]), results
    if codes == [0, 75]:
        busy = next(err for (out, err), r in zip(results, runs, strict=True) if r.returncode == 75)
        assert "Another alerts run is already going" in busy
    counts = _counts(slow_mail)
    assert len(counts) == EXPECTED_MAILS and max(counts.values()) == 1
    assert len(slack_server.posts) == 3
    assert set(ledger.read_ledger(engine, limit=None)["status"]) == {"sent"}
