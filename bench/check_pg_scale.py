"""Check a database built by ``bench/build_pg_scale.py`` is its source company ``factor`` times over.

Run: ``.venv/bin/python bench/check_pg_scale.py`` (defaults: ``--source accord_bench1m --target
accord_bench10m --factor 10``). Reads both databases, writes nothing. Checks that every lead, activity,
deal and handover table holds ``factor`` times the source's rows, that owners and agreement versions are
the same, that no copied activity, deal or handover points at a lead missing from the target, and that
Accord's own aggregate queries (``data.aggregates.history_counts``: the Marketing page's MQLs, SQLs and
sourced deals per period, owner and channel over 15 months) give ``factor`` times the source's counts
and pipeline with the same last MQL instants. Prints ``name: value`` lines and exits non-zero on a
mismatch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sqlalchemy import text  # noqa: E402

from analytics.agreement import versions_from_rows  # noqa: E402
from analytics.commitments import document_in_force  # noqa: E402
from analytics.periods import period_of  # noqa: E402
from data import journal  # noqa: E402
from data.aggregates import history_counts  # noqa: E402
from data.engine import make_engine  # noqa: E402

AGREEMENT = "Sales and Marketing SLA"
ORPHANS = {  # rows of the copies whose lead is not in the target
    "activities": "SELECT count(*) FROM activities a WHERE a.lead_external_id LIKE '%-c%' AND NOT EXISTS "
    "(SELECT 1 FROM leads l WHERE l.source = a.source AND l.external_id = a.lead_external_id)",
    "deals": "SELECT count(*) FROM deals d WHERE d.lead_external_id LIKE '%-c%' AND NOT EXISTS "
    "(SELECT 1 FROM leads l WHERE l.source = d.source AND l.external_id = d.lead_external_id)",
    "handovers": "SELECT count(*) FROM handovers h WHERE h.lead_external_id LIKE '%-c%' AND NOT EXISTS "
    "(SELECT 1 FROM leads l WHERE l.source = h.source AND l.external_id = h.lead_external_id)",
}


def counts(engine) -> dict[str, int]:
    """Rows per table that the builder copies or keeps."""
    tables = ("leads", "activities", "deals", "handovers", "owners", "agreement_versions")
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def month_counts(engine, as_of: pd.Timestamp):
    """The Marketing history's aggregates of the last closed period before ``as_of``, and seconds taken."""
    versions = versions_from_rows(journal.read_agreement_versions(engine, AGREEMENT))
    doc = document_in_force(versions, as_of)
    current = period_of(as_of, doc.period, doc.timezone)
    last = period_of(current["period_start"] - pd.Timedelta(seconds=1), doc.period, doc.timezone)
    start = period_of(last["period_start"] - pd.DateOffset(months=14), doc.period, doc.timezone)
    started = time.perf_counter()
    out = history_counts(
        engine, versions, last["period_start"], last["period_end"], as_of, start["period_start"]
    )
    return out, time.perf_counter() - started


def scaled(small: pd.DataFrame, big: pd.DataFrame, keys: list[str], factor: int) -> int:
    """How many rows of ``big`` are not ``factor`` times ``small`` (counts and sums; instants equal)."""
    merged = small.merge(big, on=keys, how="outer", suffixes=("_s", "_b"), indicator=True)
    bad = merged["_merge"] != "both"
    for column in [c for c in small.columns if c not in keys]:
        s, b = merged[f"{column}_s"], merged[f"{column}_b"]
        if pd.api.types.is_numeric_dtype(s) and column not in ("pos", "owner_id"):
            bad |= ~np.isclose(s.astype(float) * factor, b.astype(float))
        else:
            bad |= ~((s == b) | (s.isna() & b.isna())).astype(bool)
    return int(bad.sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql+psycopg://accord@127.0.0.1:55432")
    parser.add_argument("--source", default="accord_bench1m")
    parser.add_argument("--target", default="accord_bench10m")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--as-of", default="2026-12-07 12:00", help="UTC instant the figures are taken at")
    args = parser.parse_args(argv)
    small, big = make_engine(f"{args.server}/{args.source}"), make_engine(f"{args.server}/{args.target}")
    results: dict[str, float] = {}
    mismatches = 0
    a, b = counts(small), counts(big)
    for table, n in a.items():
        want = n * (1 if table in ("owners", "agreement_versions") else args.factor)
        results[f"{table}_rows"] = b[table]
        mismatches += b[table] != want
    with big.connect() as conn:
        for table, query in ORPHANS.items():
            results[f"{table}_orphans"] = conn.execute(text(query)).scalar_one()
            mismatches += results[f"{table}_orphans"] != 0
    as_of = pd.Timestamp(args.as_of, tz="UTC")
    (h_small, results["history_counts_source_s"]), (h_big, results["history_counts_target_s"]) = (
        month_counts(small, as_of),
        month_counts(big, as_of),
    )
    lead_keys = ["pos", "channel", "source", "owner_external_id"]
    deal_keys = ["channel", "source", "owner_external_id"]
    results["history_lead_rows_off"] = scaled(h_small.leads, h_big.leads, lead_keys, args.factor)
    results["history_previous_deal_rows_off"] = scaled(
        h_small.previous_deals, h_big.previous_deals, deal_keys, args.factor
    )
    results["history_usual_deal_rows_off"] = scaled(
        h_small.usual_deals, h_big.usual_deals, deal_keys, args.factor
    )
    results["history_mqls_target"] = int(h_big.leads["mqls"].sum())
    results["history_mqls_source"] = int(h_small.leads["mqls"].sum())
    mismatches += sum(int(v) for k, v in results.items() if k.endswith("_off"))
    for name, value in results.items():
        print(f"{name}: {value:.2f}" if name.endswith("_s") else f"{name}: {value:,}")
    print(f"mismatches: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
