"""In-process companion of bench_pages.py's "new tab later": a page's script time in a new tab 2 minutes after
it was last opened, nothing written, with the "as of" reused (ACCORD_AS_OF_REUSE_MINUTES=5) and per minute (=0).

Run: ``.venv/bin/python bench/bench_as_of_reuse.py --db /tmp/copy.db [--pages sales overview marketing funnel]``.
The database is copied first (the Overview's first open freezes last week). Streamlit's AppTest runs app.py
in this process; the clock moves through ``ACCORD_NOW`` (no waiting). Each new tab first runs the default page
(AppTest opens at the root: the Overview), then the page; the time is the page's run, and ``*_views_built``
counts the views (any page's) the new tab built. Prints ``name: value`` lines and ``<page>_per_minute_over_reused``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from streamlit import logger  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

import views.funnel  # noqa: E402
import views.marketing  # noqa: E402
import views.overview  # noqa: E402
import views.sales  # noqa: E402
from pages.components import loaders  # noqa: E402
from tests.conftest import route_like_a_server  # noqa: E402

T0 = pd.Timestamp("2026-12-07T17:00:05Z")  # any instant a second or so into a minute
BUILT: list[str] = []


def counting(module, name: str) -> None:
    """Replace ``module.name`` (a view builder the loaders import when they build) by one that counts builds."""
    build = getattr(module, name)

    def counted(*args, **kwargs):
        BUILT.append(name)
        return build(*args, **kwargs)

    setattr(module, name, counted)


def new_tab(page: str, now: pd.Timestamp) -> tuple[float, int, pd.Timestamp]:
    """(seconds of the page's run, views built by the tab, its as_of) of a new session at ``now``."""
    os.environ["ACCORD_NOW"] = now.isoformat()
    BUILT.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    started = time.perf_counter()
    at.run()  # the root: the Overview
    if page != "pages/overview.py":
        started = time.perf_counter()
        at.switch_page(page).run()
    took = time.perf_counter() - started
    assert not at.exception, [e.message for e in at.exception]
    return took, len(BUILT), at.session_state["_accord_filters"].as_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="SQLite file (copied, never written)")
    parser.add_argument("--pages", nargs="*", default=["overview", "sales", "marketing", "funnel"])
    args = parser.parse_args()
    logger.set_log_level("error")
    route_like_a_server(pytest.MonkeyPatch())
    for module, name in ((views.sales, "sales_view"), (views.overview, "overview_view"),
                         (views.marketing, "marketing_view"), (views.funnel, "funnel_view")):  # fmt: skip
        counting(module, name)
    folder = Path(tempfile.mkdtemp(prefix="accord-bench-as-of-"))
    results: dict[str, float] = {"load_average_before": os.getloadavg()[0]}
    try:
        shutil.copy(args.db, folder / "bench.db")
        os.environ["ACCORD_DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
        new_tab("pages/overview.py", T0)  # freezes last week: the write is done before anything is timed
        time.sleep(loaders.GENERATION_TTL + 1)
        for page in args.pages:
            for mode, minutes in (("reused", "5"), ("per_minute", "0")):
                loaders.clear()
                os.environ["ACCORD_AS_OF_REUSE_MINUTES"] = minutes
                new_tab(f"pages/{page}.py", T0)  # cold
                warm, _, start = new_tab(f"pages/{page}.py", T0 + pd.Timedelta(seconds=20))
                later, built, moved = new_tab(f"pages/{page}.py", T0 + pd.Timedelta(minutes=2))
                results[f"{page}_warm_same_minute_{mode}_s"] = warm
                results[f"{page}_new_tab_2min_later_{mode}_s"] = later
                results[f"{page}_new_tab_2min_later_{mode}_views_built"] = float(built)
                print(f"{page} {mode}: as of {start:%H:%M} then {moved:%H:%M}", flush=True)
            results[f"{page}_per_minute_over_reused"] = (
                results[f"{page}_new_tab_2min_later_per_minute_s"]
                / results[f"{page}_new_tab_2min_later_reused_s"]
            )
        results["load_average_after"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print()
    for name, value in results.items():
        print(f"{name}: {value:.0f}" if name.endswith("_built") else f"{name}: {value:.2f}")


if __name__ == "__main__":
    main()
