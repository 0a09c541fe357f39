"""N servers on one database: what must happen once (schema, default agreement, demo load, a week's final
snapshot) happens once, however many processes start or freeze at the same moment. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import event, insert

import settings
from data import journal, locks, queries, syncs
from data.engine import make_engine
from data.models import WeeklySnapshot
from tests.conftest import clock_env

AGREEMENT = "Sales and Marketing SLA"
WEEK = "2026-W46"
FIGURES = [{"commitment": "mql-volume", "actual": 10}]
THEIRS = [{"commitment": "mql-volume", "actual": 99}]

SERVER_START = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    from bootstrap import load_demo_if_empty
    from data.engine import make_engine, upgrade

    url, go = sys.argv[1], Path(sys.argv[2])
    while not go.exists():  # every process is imported and waiting: start together
        time.sleep(0.005)
    engine = make_engine(url)
    upgrade(engine)
    print(load_demo_if_empty(engine, leads=300))
    """
)


def child(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", *args], cwd=settings.ROOT, env={**clock_env(), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_servers_starting_together_on_an_empty_database_set_it_up_once(empty_url, tmp_path):
    go = tmp_path / "go"
    servers = [child(SERVER_START, empty_url, str(go)) for _ in range(3)]
    go.touch()
    results = [server.communicate(timeout=300) for server in servers]
    assert [server.returncode for server in servers] == [0, 0, 0], [err[-2000:] for _, err in results]
    assert sorted(out.strip() for out, _ in results) == ["False", "False", "True"]  # one of them loaded it
    engine = make_engine(empty_url)
    assert journal.read_agreement_versions(engine)["version"].tolist() == [1]
    assert len(journal.read_audit(engine, action="agreement.save")) == 1
    runs = syncs.read_sync_runs(engine)
    assert runs[["connector", "status"]].values.tolist() == [["demo", "ok"]]
    assert queries.table_counts(engine)["leads"] == 300
    engine.dispose()


def test_the_lock_keeps_another_process_waiting_until_it_is_let_go(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    waiting = textwrap.dedent(
        f"""
        from data import locks
        from data.engine import make_engine

        with locks.held(make_engine({url!r}), locks.FIRST_START):
            print("got it")
        """
    )
    with locks.held(engine, locks.FIRST_START):
        other = child(waiting)
        with pytest.raises(subprocess.TimeoutExpired):
            other.wait(timeout=3)  # still waiting for the lock this test holds
    out, err = other.communicate(timeout=60)
    assert (other.returncode, out.strip()) == (0, "got it"), err
    with locks.held(engine, locks.SCHEMA):  # another name is another lock
        assert child(waiting).communicate(timeout=60)[0].strip() == "got it"


def another_server_freezes_first(engine, final: bool) -> None:
    """Right after save_snapshot looked for the week's row, another server stores its own snapshot of it."""
    table = WeeklySnapshot.__table__
    done = []

    def meanwhile(_conn, _cursor, statement, *_):
        if not done and "FROM weekly_snapshots" in statement:
            done.append(True)
            other = make_engine(engine.url.render_as_string(hide_password=False))
            with other.begin() as conn:
                conn.execute(insert(table).values(agreement=AGREEMENT, week=WEEK, final=final,
                                                  frozen_at=journal.clock.now(), figures=THEIRS))  # fmt: skip
            other.dispose()

    event.listen(engine, "after_cursor_execute", meanwhile)


def test_a_final_snapshot_another_server_froze_a_moment_ago_is_kept(engine):
    another_server_freezes_first(engine, final=True)
    assert journal.save_snapshot(engine, AGREEMENT, WEEK, FIGURES, final=True) is False
    stored = journal.read_snapshots(engine, AGREEMENT)
    assert stored[["week", "final"]].values.tolist() == [[WEEK, True]]
    assert stored["figures"].iloc[0] == THEIRS


def test_a_provisional_snapshot_another_server_froze_a_moment_ago_is_replaced(engine):
    another_server_freezes_first(engine, final=False)
    assert journal.save_snapshot(engine, AGREEMENT, WEEK, FIGURES, final=True) is True
    stored = journal.read_snapshots(engine, AGREEMENT)
    assert stored[["week", "final"]].values.tolist() == [[WEEK, True]]
    assert stored["figures"].iloc[0] == FIGURES
