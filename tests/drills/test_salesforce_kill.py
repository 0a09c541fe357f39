"""Drill: ``kill -9`` in the middle of ``python cli.py sync salesforce``, then the same command again.

Every Bulk results page of an object is committed in one transaction with the
object's checkpoint (job id and the locator of the next page), so the killed
sync leaves whole pages behind; the rerun continues the same job from the saved
locator and upserts on ``(source, external_id)``: nothing is lost, nothing
doubled, and the database equals the org row for row. The killed run stays
``running`` until the rerun starts and marks it ``interrupted``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import trustme

from data import queries, syncs
from data.engine import make_engine, upgrade
from tests.connectors.salesforce.conftest import CLIENT_ID, CLIENT_SECRET, assert_matches
from tests.connectors.salesforce.fake_salesforce import FakeSalesforce
from tests.connectors.salesforce.test_salesforce_cli import REPO, cli_env

pytestmark = pytest.mark.slow


def test_a_sync_killed_mid_object_and_run_again_equals_the_org(tmp_path):
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    fake = FakeSalesforce(ca, CLIENT_ID, CLIENT_SECRET)
    fake.clock = fake.clock.replace(year=2020)  # the subprocess runs on the real clock, which is later
    fake.seed(leads=3_000, opportunities=600)
    fake.bulk_page_cap = 150  # 20 results pages of leads
    fake.delay = 0.03
    fake.start()
    try:
        database = tmp_path / "killed.db"
        engine = make_engine(f"sqlite:///{database}")
        upgrade(engine)
        env = cli_env(database, fake, str(bundle))
        command = [sys.executable, "cli.py", "sync", "salesforce"]
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        checkpoint = None
        while time.monotonic() < deadline and process.poll() is None:
            _, checkpoint = syncs.get_sync_state(engine, "salesforce", "Lead")
            if checkpoint and checkpoint.get("locator") and int(checkpoint["locator"]) >= 600:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the sync ended before it could be killed: seed more leads"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        partial = queries.table_counts(engine)["leads"]
        assert 600 <= partial < 3_000
        assert syncs.read_sync_runs(engine).iloc[0]["status"] == "running"  # died without a word

        fake.delay = 0.0
        rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)

        assert rerun.returncode == 0, rerun.stderr
        assert "resumed full" in rerun.stdout or "leads (resumed full)" in rerun.stdout
        assert_matches(engine, fake)  # nothing lost, nothing doubled
        runs = syncs.read_sync_runs(engine).sort_values("id")
        assert runs["status"].tolist() == ["interrupted", "ok"]
        jobs = [path for method, path in fake.log if method == "POST" and path.endswith("/jobs/query")]
        assert len(jobs) == 4  # the Lead job was continued from its locator, not started again
    finally:
        fake.stop()
