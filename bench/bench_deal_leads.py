"""Benchmark: a window's leads with its deals' leads on PostgreSQL, as a UNION ALL (today) against the OR form.

Run: ``.venv/bin/python bench/bench_deal_leads.py --url postgresql+psycopg://accord@127.0.0.1:55432/accord_bench1m
[--work-mem 256kB] [--weeks 12] [--timeout 300] [--rounds 3]``

Times :func:`data.queries.read_leads` with ``with_deal_leads=True`` (what every page's window reads) over
the last ``--weeks`` weeks before the newest handover, with the session's ``work_mem`` set, ``--rounds`` times each (medians): as the
code reads it (the window's leads UNION ALL the deals' leads outside it, joined to their ids), and with the
reference OR form (``in the window OR id IN (leads of the window's deals)``, SQLite's form) swapped in.
PostgreSQL runs the OR form as a hashed sub-plan only while the deals' lead ids fit in ``work_mem``; past
it, it probes them once per lead. A run past ``--timeout`` seconds is cut by ``statement_timeout`` and
printed as that many seconds (a lower bound). Prints ``name: value`` lines and the ratio union / or.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from data import queries  # noqa: E402
from data.engine import make_engine  # noqa: E402


def or_form(head, by, marks, ids, id_alias):
    """The reference: the one-statement OR form :func:`data.queries._where` writes (SQLite's)."""
    return head + queries._where(by, marks, True, ids, id_alias)


def timed(url: str, start, end, timeout_s: int) -> tuple[float, int | None]:
    engine = make_engine(url)
    started = time.perf_counter()
    try:
        rows = len(queries.read_leads(engine, start, end, with_deal_leads=True, columns=["id", "mql_at"]))
    except Exception as exc:  # statement_timeout: the form did not finish in time
        if "statement timeout" not in str(exc) and "canceling statement" not in str(exc):
            raise
        return float(timeout_s), None
    finally:
        engine.dispose()
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL database holding a company (not written)")
    parser.add_argument("--work-mem", default="4MB")
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each form (medians)")
    args = parser.parse_args()
    options = quote(f"-c work_mem={args.work_mem} -c statement_timeout={args.timeout * 1000}")
    url = f"{args.url}{'&' if '?' in args.url else '?'}options={options}"
    with make_engine(url).connect() as conn:
        newest = conn.execute(sa.text("SELECT max(mql_at) FROM leads")).scalar_one()
        leads = conn.execute(sa.text("SELECT count(*) FROM leads")).scalar_one()
    end = pd.Timestamp(newest).tz_convert("UTC").floor("D") + pd.Timedelta(days=1)
    start = end - pd.Timedelta(weeks=args.weeks)
    print(f"{leads:,} leads; window {start:%Y-%m-%d} to {end:%Y-%m-%d}; work_mem {args.work_mem}", flush=True)
    kept = queries._with_deal_leads_union
    times: dict[str, list[float]] = {"union": [], "or": []}
    rows: dict[str, int | None] = {}
    for round_ in range(args.rounds):  # alternating which goes first: the second finds the cache warm
        for form in ("union", "or") if round_ % 2 == 0 else ("or", "union"):
            queries._with_deal_leads_union = kept if form == "union" else or_form
            try:
                seconds, rows[form] = timed(url, start, end, args.timeout)
            finally:
                queries._with_deal_leads_union = kept
            times[form].append(seconds)
            cut = " (cut by statement_timeout)" if rows[form] is None else ""
            print(f"{form}: {seconds:.2f} s{cut}, {rows[form]} rows", flush=True)
        if rows["or"] is None:
            break  # the reference ran past the timeout: once is enough
    if rows["or"] is not None and rows["or"] != rows["union"]:
        raise SystemExit(f"the two forms read different rows: {rows['union']} and {rows['or']}")
    union_s, or_s = statistics.median(times["union"]), statistics.median(times["or"])
    print(f"deal_leads_union_s: {union_s:.3f}")
    print(f"deal_leads_or_s: {or_s:.3f}")
    print(f"deal_leads_union_over_or: {union_s / or_s:.3f}")


if __name__ == "__main__":
    main()
