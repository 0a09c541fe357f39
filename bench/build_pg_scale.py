"""Build a PostgreSQL demo company N times bigger from one built earlier, inside PostgreSQL.

Run: ``.venv/bin/python bench/build_pg_scale.py`` (defaults: ``--source accord_bench1m --target
accord_bench10m --factor 10`` on ``--server postgresql://accord@127.0.0.1:55432``). Loading 10M leads
through the demo loader (``connectors.demo``, Python) would take hours; this copies the rows the loader
made in SQL instead.

What it builds: ``CREATE DATABASE <target> TEMPLATE <source>`` (nobody may be connected to the source),
then in the target, for each copy ``k`` = 2..factor, every lead, activity, deal and handover again with a
fresh ``id`` (the tables' sequences) and ``-c<k>`` appended to its ``external_id`` and to the
``lead_external_id`` it points at (NULL stays NULL), all other columns as they are: the same owners,
teams, channels, campaigns, timestamps, stages and amounts; names, companies and e-mails repeat. Owners,
agreement versions, audit log and sync runs are not copied. So the target is the source company
``factor`` times over in the same date range: every count is ``factor`` times the source's, and every
rate, median and share is the source's (a check the bench's numbers can be read against). The frozen
weekly snapshots are deleted (they hold the source's counts), so the Overview freezes last week anew on
its first open, as it would in use. Then ``VACUUM (ANALYZE)`` of the four tables.

How: per table, one transaction drops its secondary indexes and unique constraints, inserts the copies
with one ``INSERT ... SELECT ... CROSS JOIN generate_series(2, factor)``, builds them again (exactly
their ``pg_get_indexdef`` / ``pg_get_constraintdef``) and marks the table done with a table comment;
a run that stops leaves the table as it was, and a second run skips the tables marked done
(restartable). Prints ``name: value`` lines (seconds, rows).

Measured 2026-12-07 (2 cores shared with another helper's tests, load average 1.3 before, ~3.5 during):
1M -> 10M in 385 s (template copy 13 s; leads 58 s insert + 58 s indexes; activities 97 s + 136 s;
deals 14 s; handovers 1.4 s; VACUUM ANALYZE 5 s): 10,000,000 leads, 22,727,110 activities, 1,371,370
deals, 284,380 handovers, 8.5 GB. Check it with ``bench/check_pg_scale.py``. The pages need
``ALTER DATABASE <target> SET work_mem = '64MB'`` at this size (docs/scaling.md, "10M on PostgreSQL");
this script leaves the server's settings alone.
"""

from __future__ import annotations

import argparse
import time

import psycopg

TABLES = {  # table -> the expressions of the columns a copy changes (k is the copy's number)
    "leads": {"external_id": "external_id || '-c' || k"},
    "activities": {
        "external_id": "external_id || '-c' || k",
        "lead_external_id": "lead_external_id || '-c' || k",
    },
    "deals": {"external_id": "external_id || '-c' || k", "lead_external_id": "lead_external_id || '-c' || k"},
    "handovers": {
        "external_id": "external_id || '-c' || k",
        "lead_external_id": "lead_external_id || '-c' || k",
    },
}


def marker(source: str, factor: int) -> str:
    """The table comment that says a table holds its ``factor`` copies of ``source``."""
    return f"accord bench: {factor} copies of {source} (bench/build_pg_scale.py)"


def create_target(server: str, source: str, target: str) -> float:
    """Copies the database ``source`` to ``target`` unless it exists; seconds taken (0 when it existed)."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone():
            return 0.0
        started = time.perf_counter()
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
        return time.perf_counter() - started


def scale_table(conn: psycopg.Connection, table: str, source: str, factor: int) -> dict[str, float]:
    """Adds copies 2..factor of ``table``'s rows in one transaction; its timings and row count (empty when done)."""
    done = conn.execute("SELECT obj_description(%s::regclass, 'pg_class')", (table,)).fetchone()[0]
    if done == marker(source, factor):
        return {}
    out: dict[str, float] = {}
    with conn.transaction():
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        conn.execute("SET LOCAL synchronous_commit = off")
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            (table,),
        ).fetchall()
        indexes = conn.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            (table,),
        ).fetchall()
        for name, _ in constraints:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id' "
                "ORDER BY ordinal_position",
                (table,),
            )
        ]
        exprs = ", ".join(TABLES[table].get(column, column) for column in columns)
        started = time.perf_counter()
        inserted = conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {exprs} FROM generate_series(2, %s) AS k CROSS JOIN {table}",
            (factor,),
        ).rowcount
        out[f"{table}_insert_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        for name, definition in constraints:
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        out[f"{table}_indexes_s"] = time.perf_counter() - started
        conn.execute(f"COMMENT ON TABLE {table} IS '{marker(source, factor)}'")
    out[f"{table}_rows_added"] = float(inserted)
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server", default="postgresql://accord@127.0.0.1:55432", help="server URL, no database"
    )
    parser.add_argument("--source", default="accord_bench1m", help="database built by the demo loader")
    parser.add_argument("--target", default="accord_bench10m", help="database to build (kept; resumed)")
    parser.add_argument("--factor", type=int, default=10, help="copies of the source company (default 10)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = {"create_database_s": create_target(args.server, args.source, args.target)}
    with psycopg.connect(f"{args.server}/{args.target}", autocommit=True) as conn:
        for table in TABLES:
            results.update(scale_table(conn, table, args.source, args.factor))
            print(f"{table}: done at {time.perf_counter() - started:.0f} s", flush=True)
        results["snapshots_deleted"] = float(conn.execute("DELETE FROM weekly_snapshots").rowcount)
        vacuum = time.perf_counter()
        for table in TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")
        results["vacuum_analyze_s"] = time.perf_counter() - vacuum
        for table in TABLES:
            results[f"{table}_rows"] = float(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        results["database_gb"] = size / 1024**3
    results["build_s"] = time.perf_counter() - started
    print()
    for name, value in results.items():
        print(
            f"{name}: {value:,.0f}"
            if name.endswith("rows") or name.endswith("added")
            else f"{name}: {value:.2f}"
        )
    return results


if __name__ == "__main__":
    main()
