"""Drill: ``kill -9`` in the middle of ``python cli.py import leads BIG.csv``, then the same import again.

Each chunk of the file is committed in one transaction (good rows, new owners
and rejected rows together), so a killed import leaves whole chunks behind and
the rerun upserts every row on ``(source, external_id)``: nothing is lost,
nothing doubled, and the result equals a clean import row for row.

How a killed run shows: its ``sync_runs`` record stays ``running`` with no
``finished_at`` — the process died before it could write anything else. When
the next run of the same source starts, ``start_run`` marks it
``interrupted`` (``finished_at`` still empty: when it died is unknown), with an
error naming the run that noticed. The rerun is a separate, ``ok`` run.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import settings
from data import journal, queries, syncs
from data.engine import make_engine, upgrade

ROWS = 24_000
CHUNK_ROWS = 500
HEADERS = [
    "Lead ID",
    "Created Date",
    "MQL Date",
    "Lead Owner",
    "Lead Source",
    "Campaign Name",
    "Status",
    "Unqualified Reason",
    "Industry",
]  # fmt: skip  (the salesforce-leads preset)
STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Unqualified"]
pytestmark = pytest.mark.slow


def lead_id(i: int) -> str:
    return f"00Q{(i if i % 97 else i - 1):09d}"  # every 97th row repeats the previous row's id


def rejected(i: int) -> bool:
    return i % 251 == 0  # an impossible date


def write_big_csv(path) -> None:
    """A Salesforce-style lead export: some rows with a bad date (rejected) and some repeated ids (last wins)."""
    start = dt.datetime(2025, 1, 1, 8, tzinfo=dt.UTC)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for i in range(ROWS):
            created = start + dt.timedelta(minutes=7 * i)
            mql = (
                "31/02/2025" if rejected(i) else (created + dt.timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
            )
            writer.writerow([lead_id(i), created.strftime("%Y-%m-%d %H:%M"), mql, f"Rep {i % 13}",
                             ["Web", "Partner", "Event"][i % 3], f"Campaign {i % 40}", STATUSES[i % 4],
                             "No budget" if i % 4 == 3 else "", ["SMB", "Mid-Market"][i % 2]])  # fmt: skip


def run_import(url: str, path, **popen) -> subprocess.Popen:
    command = [sys.executable, str(settings.ROOT / "cli.py"), "import", "leads", str(path),
               "--chunk-rows", str(CHUNK_ROWS)]  # fmt: skip
    env = {**os.environ, "ACCORD_DATABASE_URL": url}
    return subprocess.Popen(command, cwd=settings.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)  # fmt: skip


def finish(process: subprocess.Popen, timeout: float = 300) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"import failed ({process.returncode}):\n{out}\n{err}"
    return out


def stored(engine) -> dict[str, pd.DataFrame]:
    """Leads (owners by external id, not surrogate id), owners and rejected rows, in a comparable order."""
    owners = queries.read_owners(engine)
    names = dict(zip(owners["id"], owners["external_id"], strict=True))
    leads = queries.read_leads(engine, per_handover=False)  # the stored rows (repeated ids become handovers)
    leads["owner_external_id"] = leads["owner_id"].map(names).astype("str")
    leads = leads.drop(columns=["id", "owner_id"]).sort_values("external_id").reset_index(drop=True)
    handovers = queries.read_leads(engine)[
        ["external_id", "mql_at"]
    ]  # one row per handover, as figures count
    handovers = handovers.sort_values(["external_id", "mql_at"]).reset_index(drop=True)
    owners = owners.drop(columns=["id"]).sort_values("external_id").reset_index(drop=True)
    rejected = journal.read_rejected_rows(engine)[["source", "object", "row_number", "reasons", "raw"]]
    rejected = rejected.sort_values("row_number").reset_index(drop=True)
    return {"leads": leads, "owners": owners, "rejected": rejected, "handovers": handovers}


def test_an_import_killed_mid_file_and_run_again_equals_a_clean_import(tmp_path):
    big = tmp_path / "BIG.csv"
    write_big_csv(big)
    killed_url = f"sqlite:///{tmp_path / 'killed.db'}"
    killed = make_engine(killed_url)
    upgrade(killed)

    process = run_import(killed_url, big)
    deadline = time.monotonic() + 240
    committed = 0
    while time.monotonic() < deadline and process.poll() is None:
        committed = queries.table_counts(killed)["leads"]
        if committed >= 3 * CHUNK_ROWS:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the import ended before it could be killed: make BIG.csv bigger"
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL

    partial = queries.table_counts(killed)["leads"]
    assert 3 * CHUNK_ROWS <= partial < ROWS * 0.9, partial  # whole chunks made it, far from all
    runs = syncs.read_sync_runs(killed)
    assert runs["status"].tolist() == ["running"] and runs["finished_at"].isna().all()

    finish(run_import(killed_url, big))  # the same import again, to the end

    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    clean = make_engine(clean_url)
    upgrade(clean)
    finish(run_import(clean_url, big))

    after, expected = stored(killed), stored(clean)
    for name in ("leads", "owners", "rejected", "handovers"):
        pd.testing.assert_frame_equal(after[name], expected[name], check_like=True, obj=name)
    assert after["leads"]["external_id"].is_unique  # no duplicates
    assert set(after["leads"]["external_id"]) == {
        lead_id(i) for i in range(ROWS) if not rejected(i)
    }  # no loss
    assert len(after["rejected"]) == sum(rejected(i) for i in range(ROWS))
    runs = syncs.read_sync_runs(killed).sort_values("id")
    assert runs["status"].tolist() == ["interrupted", "ok"]  # the rerun noticed that the killed run died
    assert pd.isna(runs["finished_at"].iloc[0]) and f"run {runs['id'].iloc[1]} " in runs["error"].iloc[0]
    assert runs["counts"].iloc[-1]["read"] == ROWS
