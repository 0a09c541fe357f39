"""``python cli.py sync salesforce`` in a real subprocess against the local Salesforce running in this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from data import journal, syncs
from data.engine import make_engine
from tests.conftest import clock_env
from tests.connectors.salesforce.conftest import CLIENT_ID, CLIENT_SECRET, assert_matches

REPO = Path(__file__).resolve().parents[3]


def cli_env(database: Path, fake, ca_bundle: str, secret: str = CLIENT_SECRET) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALESFORCE_", "ACCORD_", "HUBSPOT_"))}
    env.update(
        ACCORD_DATABASE_URL=f"sqlite:///{database}",
        SALESFORCE_LOGIN_URL=fake.base_url,
        SALESFORCE_CLIENT_ID=CLIENT_ID,
        SALESFORCE_CLIENT_SECRET=secret,
        REQUESTS_CA_BUNDLE=ca_bundle,
        PYTHONUNBUFFERED="1",
        **clock_env(),
    )
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "cli.py", "sync", "salesforce", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_command_syncs_with_a_progress_bar_and_an_audit_entry(tmp_path, fake_sf, trusted):
    database = tmp_path / "cli.db"
    fake_sf.clock = fake_sf.clock.replace(year=2020)  # the real clock is later: the cursor is "now"

    done = run_cli(cli_env(database, fake_sf, trusted))

    assert done.returncode == 0, done.stderr
    assert "Salesforce full sync ok" in done.stdout and "150 leads (full)" in done.stdout
    assert "Lead" in done.stderr and "login" in done.stderr  # the progress bar
    engine = make_engine(f"sqlite:///{database}")
    assert_matches(engine, fake_sf)
    audit = journal.read_audit(engine)
    assert audit.iloc[0]["action"] == "sync.salesforce" and audit.iloc[0]["detail"]["status"] == "ok"

    again = run_cli(cli_env(database, fake_sf, trusted))
    assert again.returncode == 0 and "Salesforce incremental sync ok" in again.stdout


def test_a_wrong_secret_exits_1_with_one_line(tmp_path, fake_sf, trusted):
    done = run_cli(cli_env(tmp_path / "cli.db", fake_sf, trusted, secret="not-the-secret-at-all"))

    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "SALESFORCE_CLIENT_SECRET" in lines[0]


def test_a_sync_while_another_runs_exits_75(tmp_path, fake_sf, trusted):
    database = tmp_path / "cli.db"
    env = cli_env(database, fake_sf, trusted)
    run_cli(env, "--help")
    engine = make_engine(f"sqlite:///{database}")
    from data.engine import upgrade

    upgrade(engine)
    syncs.start_run(engine, "salesforce", "sync")  # this process: alive

    done = run_cli(env)

    assert done.returncode == 75 and "Another Salesforce sync is already going" in done.stderr
    assert not fake_sf.log


def test_the_daily_limit_exits_75_saying_when_to_continue(tmp_path, fake_sf, trusted):
    fake_sf.daily_max = 210  # the reserve is 10% of the limit but at least 200 requests: 10 to spend

    done = run_cli(cli_env(tmp_path / "cli.db", fake_sf, trusted))

    assert done.returncode == 75
    assert "stopped: stopped before exhausting the org's daily API limit" in done.stderr
    assert "run it again after" in done.stderr
    assert fake_sf.used <= 12


def test_the_secret_and_the_access_token_are_never_printed_or_stored(tmp_path, fake_sf, trusted):
    database = tmp_path / "cli.db"
    env = cli_env(database, fake_sf, trusted)
    fake_sf.expire_at_request = 8  # a second token is issued mid-run
    outputs = [run_cli(env)]
    fake_sf.api_enabled = False  # and a failed run, whose error is stored
    outputs.append(run_cli(env))
    fake_sf.api_enabled = True
    outputs.append(run_cli(env, "--full"))

    assert [o.returncode for o in outputs] == [0, 1, 0]
    assert len(fake_sf.issued) >= 3
    secrets = [CLIENT_SECRET, *fake_sf.issued, *(t.split("!")[1] for t in fake_sf.issued)]
    printed = "".join(o.stdout + o.stderr for o in outputs)
    stored = database.read_bytes().decode("latin-1")
    for wal in database.parent.glob("cli.db*"):
        stored += wal.read_bytes().decode("latin-1")
    engine = make_engine(f"sqlite:///{database}")
    tables = json.dumps(
        {
            "runs": syncs.read_sync_runs(engine).astype(str).to_dict("records"),
            "audit": journal.read_audit(engine).astype(str).to_dict("records"),
            "state": syncs.read_sync_state(engine).astype(str).to_dict("records"),
        }
    )
    for secret in secrets:
        assert secret not in printed
        assert secret not in stored
        assert secret not in tables
