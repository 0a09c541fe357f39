"""The alert ledger on SQLite and PostgreSQL: one claim per alert, retries that back off, runs that died."""

from __future__ import annotations

import datetime as dt
import threading

import pandas as pd

from alerts import ledger
from alerts.ledger import Delivery
from data import queries, syncs, upserts
from data.engine import current_revision, head_revision, make_engine, upgrade
from tests.conftest import empty_postgres

NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)


def _delivery(lead: int = 1, channel: str = "email", recipient: str = "ann@example.com") -> Delivery:
    return Delivery(
        "SLA", "due_soon", "speed", lead, f"lead {lead}", "2026-12-07T08:00:00Z", channel, recipient
    )


def test_an_alert_is_claimed_once(engine):
    first = ledger.claim(engine, _delivery(), run_id=1, now=NOW)
    assert first is not None
    assert ledger.claim(engine, _delivery(), run_id=2, now=NOW) is None  # a rerun
    assert (
        ledger.claim(engine, _delivery(recipient="ANN@example.com"), run_id=2, now=NOW) is None
    )  # same person
    assert (
        ledger.claim(engine, _delivery(channel="slack", recipient="team EMEA"), run_id=2, now=NOW) is not None
    )
    ledger.mark_sent(engine, first, NOW)
    assert ledger.claim(engine, _delivery(), run_id=3, now=NOW + dt.timedelta(days=1)) is None
    rows = ledger.read_ledger(engine)
    assert sorted(rows["status"]) == ["sending", "sent"]
    sent = rows[rows["status"] == "sent"].iloc[0]
    assert sent["sent_at"] == pd.Timestamp(NOW) and sent["recipient"] == "ann@example.com"
    assert sent["lead_id"] == 1 and sent["window"] == "2026-12-07T08:00:00Z"


def test_concurrent_claims_of_one_alert_have_one_winner(engine):
    winners, barrier = [], threading.Barrier(6)

    def claim() -> None:
        barrier.wait()
        winners.append(ledger.claim(engine, _delivery(), run_id=None, now=NOW))

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([w for w in winners if w is not None]) == 1


def test_a_failed_send_is_retried_with_backoff_until_the_attempts_run_out(engine):
    row = ledger.claim(engine, _delivery(), run_id=1, now=NOW)
    retry = ledger.mark_failed(engine, row, "SMTP server down", NOW)
    assert retry == NOW + ledger.RETRY_AFTER
    assert ledger.claim(engine, _delivery(), run_id=2, now=NOW + dt.timedelta(minutes=4)) is None  # too early
    assert ledger.claim(engine, _delivery(), run_id=2, now=retry) == row
    assert ledger.claim(engine, _delivery(), run_id=3, now=retry) is None  # the second claimant loses
    now = retry
    for attempt in range(2, ledger.MAX_ATTEMPTS + 1):
        retry = ledger.mark_failed(engine, row, "still down", now)
        if attempt == ledger.MAX_ATTEMPTS:
            assert retry is None
            break
        assert retry == now + ledger.RETRY_AFTER * 2 ** (attempt - 1)
        now = retry
        assert ledger.claim(engine, _delivery(), run_id=attempt + 1, now=now) == row
    assert ledger.claim(engine, _delivery(), run_id=9, now=now + dt.timedelta(days=30)) is None
    final = ledger.read_ledger(engine).iloc[0]
    assert final["status"] == "failed" and final["attempts"] == ledger.MAX_ATTEMPTS
    assert final["error"] == "still down" and pd.isna(final["next_try_at"])


def test_rows_left_sending_by_a_dead_run_become_unknown_and_are_not_sent_again(engine):
    ledger.claim(engine, _delivery(1), run_id=1, now=NOW)
    mine = ledger.claim(engine, _delivery(2), run_id=2, now=NOW)
    assert ledger.settle_interrupted(engine, run_id=2) == 1
    rows = ledger.read_ledger(engine).set_index("lead_id")
    assert rows.loc[1, "status"] == "unknown" and "not sent again" in rows.loc[1, "error"]
    assert rows.loc[2, "status"] == "sending" and mine is not None
    assert ledger.claim(engine, _delivery(1), run_id=3, now=NOW + dt.timedelta(hours=1)) is None
    assert ledger.status_counts(engine) == {"unknown": 1, "sending": 1}


def test_last_alerted_gives_the_latest_sent_alert_per_lead(engine):
    for lead, kind, hour in ((1, "due_soon", 9), (1, "breached", 11), (2, "due_soon", 10)):
        d = Delivery("SLA", kind, "speed", lead, f"lead {lead}", "w", "email", "ann@example.com")
        row = ledger.claim(engine, d, 1, NOW)
        ledger.mark_sent(engine, row, NOW.replace(hour=hour))
    ledger.claim(engine, _delivery(3), 1, NOW)  # claimed, not sent: not "alerted"
    got = ledger.last_alerted(engine, [1, 2, 3]).set_index("lead_id")
    assert got["kind"].to_dict() == {1: "breached", 2: "due_soon"}
    assert got.loc[1, "sent_at"] == pd.Timestamp(NOW.replace(hour=11))


def _upgrade_from_0003_keeps_rows(engine):
    upgrade(engine, "0003")
    upserts.upsert_leads(engine, pd.DataFrame({"source": "crm", "external_id": ["L1", "L2"]}))
    run = syncs.start_run(engine, "hubspot", "sync")
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert len(queries.read_leads(engine)) == 2 and syncs.running_run(engine, "hubspot")["id"] == run
    assert ledger.claim(engine, _delivery(), 1, NOW) is not None


def test_migration_0004_upgrades_a_sqlite_database_in_place(tmp_path):
    _upgrade_from_0003_keeps_rows(make_engine(f"sqlite:///{tmp_path / 'old.db'}"))


def test_migration_0004_upgrades_a_postgres_database_in_place():
    _upgrade_from_0003_keeps_rows(empty_postgres())


def test_migration_0004_downgrades(tmp_path):
    from alembic import command

    from data.engine import _alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'db.db'}")
    upgrade(engine)
    command.downgrade(_alembic_config(engine), "0003")
    assert current_revision(engine) == "0003"
    upgrade(engine)
    assert current_revision(engine) == head_revision()
