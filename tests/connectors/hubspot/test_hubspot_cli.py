"""``python cli.py sync hubspot`` in a real subprocess against the local HubSpot running in this process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from data import queries, syncs
from data.engine import make_engine
from tests.conftest import clock_env
from tests.connectors.hubspot.conftest import TODAY, TOKEN, assert_same_rows, stored
from tests.connectors.hubspot.fake_hubspot import FakeHubSpot, expected_canonical, seeded_frames

REPO = Path(__file__).resolve().parents[3]


def cli_env(database: Path, fake: FakeHubSpot, token: str = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "ACCORD_"))}
    env.update(
        ACCORD_DATABASE_URL=f"sqlite:///{database}",
        HUBSPOT_ACCESS_TOKEN=token,
        HUBSPOT_BASE_URL=fake.base_url,
        PYTHONUNBUFFERED="1",
        **clock_env(),
    )
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "cli.py", "sync", "hubspot", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_cli(env: dict[str, str], output) -> subprocess.Popen:
    """``cli.py sync hubspot`` started in the background, its stdout and stderr sent to ``output``."""
    return subprocess.Popen(
        [sys.executable, "cli.py", "sync", "hubspot"],
        cwd=REPO,
        env=env,
        stdout=output,
        stderr=output,
        text=True,
    )


def test_a_wrong_token_exits_1_with_one_clear_line(tmp_path, fake_hubspot):
    database = tmp_path / "cli.db"
    wrong = "pat-na1-99999999-8888-7777-6666-555555555555"
    result = run_cli(cli_env(database, fake_hubspot, token=wrong))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: HubSpot rejected the access token (401 Unauthorized)")
    assert wrong not in result.stdout + result.stderr and TOKEN not in result.stdout + result.stderr
    run = syncs.read_sync_runs(make_engine(f"sqlite:///{database}")).iloc[0]
    assert (run["status"], run["error"]) == ("failed", last.removeprefix("error: "))


def _contacts_checkpoint(database: Path) -> dict | None:
    """The contacts checkpoint as the killed process last committed it (read without SQLAlchemy)."""
    if not database.exists():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute(
                "SELECT checkpoint FROM sync_state WHERE connector = 'hubspot' AND object = 'contacts'"
            ).fetchone()
    except sqlite3.OperationalError:  # schema not created yet
        return None
    return json.loads(row[0]) if row and row[0] else None


def _running_runs(database: Path) -> int | None:
    """How many runs the database lists as running (None before the schema exists)."""
    if not database.exists():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM sync_runs WHERE status = 'running'").fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return None


@pytest.fixture
def slow_hubspot(tmp_path):
    """A local HubSpot with 1,500 contacts answering every page in 0.15 s, so that a sync takes a while, and the
    database a CLI sync writes: ``(fake, frames, ids, database, env)``."""
    frames = seeded_frames(1_500, today=TODAY)
    with FakeHubSpot(TOKEN) as fake:
        ids = fake.seed(frames)
        database = tmp_path / "cli.db"
        fake.delay = 0.15
        yield fake, frames, ids, database, cli_env(database, fake)


def test_kill_9_in_the_middle_then_rerun_gives_the_same_rows(slow_hubspot):
    fake, frames, ids, database, env = slow_hubspot
    # slow HubSpot: the sync is surely mid-way when we strike
    process = start_cli(env, output=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while (checkpoint := _contacts_checkpoint(database)) is None or not checkpoint.get("after"):
            assert process.poll() is None, "the sync finished before it could be killed"
            assert time.monotonic() < deadline, "no contacts page was committed in time"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    committed = _contacts_checkpoint(database)
    engine = make_engine(f"sqlite:///{database}")
    before = queries.table_counts(engine)["leads"]
    assert 0 < before < 1_500

    fake.delay = 0.0
    fake.log.clear()
    result = run_cli(env)

    assert result.returncode == 0, result.stderr
    assert "HubSpot full sync ok" in result.stdout and " contacts (resumed full)" in result.stdout
    assert "fetching" in result.stderr and "pages" in result.stderr  # the progress bar
    assert TOKEN not in result.stdout + result.stderr
    assert_same_rows(stored(engine), expected_canonical(frames, ids))
    # It continued: the active contacts list was not read from its first page again.
    contact_pages = [
        r
        for r in fake.requests("GET", "/crm/v3/objects/contacts")
        if r.query["archived"][0].lower() == "false"
    ]
    assert contact_pages and all("after" in r.query for r in contact_pages)
    assert int(contact_pages[0].query["after"][0]) >= int(committed["after"])
    runs = syncs.read_sync_runs(engine)
    # the killed run never got to say how it ended; the rerun marked it interrupted
    assert runs["status"].tolist() == ["ok", "interrupted"]
    assert pd.isna(runs["finished_at"].iloc[1]) and "killed or crashed" in runs["error"].iloc[1]


def test_a_second_sync_while_one_runs_exits_75_and_leaves_it_alone(slow_hubspot):
    """Cron starts a sync while another (a "Sync now" click, an overlapping cron run) is still going."""
    fake, frames, ids, database, env = slow_hubspot
    fake.hold = (
        threading.Event()
    )  # HubSpot answers nothing until the second sync was refused: no race on load
    first = start_cli(env, output=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while _running_runs(database) != 1:
            assert first.poll() is None, "the first sync finished before the second could start"
            assert time.monotonic() < deadline, "the first sync did not start in time"
            time.sleep(0.02)
        second = run_cli(env)
        assert first.poll() is None, "the first sync ended before the second was refused"
        fake.hold.set()
        out, err = first.communicate(timeout=180)
    finally:
        first.kill()
        first.wait()

    assert second.returncode == 75, second.stderr
    last = second.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Another HubSpot sync is already going: run 1, started ")
    assert f"by process {first.pid} on " in last and "Traceback" not in second.stderr
    assert first.returncode == 0, err
    assert "HubSpot full sync ok" in out
    engine = make_engine(f"sqlite:///{database}")
    assert_same_rows(stored(engine), expected_canonical(frames, ids))  # complete, nothing twice
    runs = syncs.read_sync_runs(engine)
    assert runs["status"].tolist() == ["ok"] and runs["kind"].tolist() == [
        "full"
    ]  # no row for the refused one
