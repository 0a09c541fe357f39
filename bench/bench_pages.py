"""Page benchmark: every dashboard page on the 1M-lead demo company in headless Chromium, and the meeting pack.

Run: ``.venv/bin/python bench/bench_pages.py`` (minutes). Options: ``--leads N``
(default 1,000,000), ``--db PATH`` (reuse a SQLite file built earlier; built
there when missing), ``--warm-runs N`` (default 3), ``--pages overview data``
(only these pages; default all), ``--no-breakdown`` (skip the in-process breakdown).

Builds the demo company in a temporary SQLite file (``bootstrap``:
the default agreement, then ``connectors.demo``), then for each page registered
in ``pages/components/navigation.py`` (Overview, Marketing, Sales, Funnel,
Agreement, Data) starts a fresh ``streamlit run app.py`` and measures, in Debian
Chromium, the time from ``page.goto`` to the script having finished (Streamlit
connected, script state ``notRunning``, no skeleton, the page's title drawn):
**cold** is the first load after the server started (nothing cached), **warm**
the median of ``--warm-runs`` loads right after it in new tabs (the pages'
frames are held in ``st.cache_resource``, so a warm load reads and copies
nothing). **Menu switch** is the median time from clicking the page in the
sidebar menu of an open app (the Overview) until it finished: navigation as
people do it, without the browser loading plotly.js and connecting again. The Overview's first load also freezes last week (as it does in
use); it is timed at ``/`` and checked to answer at ``/overview`` too. Then
it times the PDF meeting pack end to end (as ``cli.py report``) and, to show
where a cold load goes, the loaders' main calls in-process.

**A new tab later** (``--later-wait S``, default 120 s; 0 skips it): each chart page opened again in a new
tab S seconds after it was last opened, nothing written meanwhile, on two servers of the same run: one
reusing the "as of" (ACCORD_AS_OF_REUSE_MINUTES=15, so that warming both up fits) and one computing as of now to the minute
every time (=0, as before); each also as a ratio over the Agreement page's warm new tab (the floor).

``--url`` times a database at a URL instead (PostgreSQL: the demo is loaded there when it is empty).
Each page's server reports its peak resident memory (``<page>_server_peak_mb``, Linux VmHWM).

Aims: warm < 1.5 s, cold < 5 s per page, the pack < 10 s. Prints ``name: value``
lines last (seconds unless the name says otherwise).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from analytics.agreement import versions_from_rows  # noqa: E402
from analytics.commitments import document_in_force, evaluate  # noqa: E402
from analytics.periods import last_closed_week, period_of, week_of  # noqa: E402
from analytics.snapshots import overview_window, week_overview  # noqa: E402
from data import journal, queries  # noqa: E402
from data.engine import make_engine, upgrade  # noqa: E402
from pages.components.navigation import PAGES  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS, StreamlitServer  # noqa: E402

AGREEMENT = "Sales and Marketing SLA"
TIMEOUT_MS = 600_000


def build(path: Path, leads: int) -> float:
    """The demo company with ``leads`` leads in the SQLite file ``path`` (kept if it exists); seconds taken."""
    if path.exists():
        return 0.0
    from bootstrap import load_demo_if_empty

    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    load_demo_if_empty(engine, leads=leads, progress=lambda table, done, total: None)
    engine.dispose()
    return time.perf_counter() - started


def load(page, url: str) -> float:
    """Seconds from navigation until Streamlit has finished running the page's script."""
    started = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
    app = page.locator("[data-testid='stApp']")
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(timeout=TIMEOUT_MS)
    page.locator("[data-testid='stMainBlockContainer'] h1").first.wait_for(timeout=TIMEOUT_MS)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=TIMEOUT_MS)
    page.get_by_test_id("stSkeleton").first.wait_for(state="detached", timeout=TIMEOUT_MS)
    assert app.count() == 1
    return time.perf_counter() - started


def switch(page, title: str) -> float:
    """Seconds from clicking ``title`` in the sidebar menu (the app already open) until that page finished running.

    This is navigation as people do it inside Accord: the browser keeps its JavaScript (plotly.js, the
    websocket), only the script runs again.
    """
    link = page.locator("[data-testid='stSidebarNav'] a").filter(has_text=title).first
    started = time.perf_counter()
    link.click(timeout=TIMEOUT_MS)
    page.locator("[data-testid='stMainBlockContainer'] h1").filter(has_text=title).first.wait_for(
        timeout=TIMEOUT_MS
    )
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=TIMEOUT_MS)
    page.get_by_test_id("stSkeleton").first.wait_for(state="detached", timeout=TIMEOUT_MS)
    return time.perf_counter() - started


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory (MB) of process ``pid`` so far (Linux ``VmHWM``); NaN where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def time_pages(db_url: str, warm_runs: int, logs: Path, only: list[str] | None = None) -> dict[str, float]:
    results: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        for spec in [s for s in PAGES if not only or s.url_path in only]:
            name = spec.title.lower()
            server = StreamlitServer({"ACCORD_DATABASE_URL": db_url}, logs / f"{name}.log")
            try:
                server.wait_healthy(timeout=120)
                url = f"{server.url}/{'' if spec.default else spec.url_path}"  # the default page is the root
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                context.on("weberror", lambda error, seen=errors: seen.append(str(error.error)))
                cold = load(context.new_page(), url)
                warm = [load(context.new_page(), url) for _ in range(warm_runs)]
                if not spec.default:  # warm, reached from the Overview's menu in the same tab
                    hops = []
                    for _ in range(warm_runs):
                        tab = context.new_page()
                        load(tab, server.url)
                        hops.append(switch(tab, spec.title))
                        tab.close()
                    results[f"{name}_menu_switch_s"] = statistics.median(hops)
                if spec.default:  # served at "/", and at its own path too
                    page = context.new_page()
                    results[f"{name}_at_own_path_warm_s"] = load(page, f"{server.url}/{spec.url_path}")
                    assert "Page not found" not in page.locator("body").inner_text(), spec.url_path
                context.close()
                results[f"{name}_server_peak_mb"] = peak_rss_mb(server.process.pid)
            finally:
                server.stop()
            results[f"{name}_cold_s"] = cold
            results[f"{name}_warm_s"] = statistics.median(warm)
            print(f"{spec.title}: cold {cold:.2f} s, warm {', '.join(f'{w:.2f}' for w in warm)} s, "
                  f"server peak {results.get(f'{name}_server_peak_mb', float('nan')):,.0f} MB"
                  + (f" (page errors: {errors})" if errors else ""), flush=True)  # fmt: skip
        browser.close()
    return results


LATER_PAGES = ("overview", "marketing", "sales", "funnel")  # the pages that compute a view per "as of"


def time_later_tabs(db_url: str, logs: Path, wait_s: float) -> dict[str, float]:
    """A new tab of each chart page ``wait_s`` seconds (the clock's minute has moved) after it was last opened,
    nothing written meanwhile: with the "as of" reused (ACCORD_AS_OF_REUSE_MINUTES=15) against now to the
    minute every time (=0, the behaviour before), two servers on the same database in one run.

    Each server first opens every page twice (the Overview's first open freezes last week: a write, so the
    second open is on unchanging data), then the bench waits (the servers read the real clock) and opens
    each page once more. ``<page>_later_tab_reused_s`` and ``<page>_later_tab_per_minute_s``.
    """
    results: dict[str, float] = {}
    # Reused for 15 minutes here (default 5): the instant is set at a server's first open, and warming both
    # servers up at a million leads takes minutes before the wait even starts.
    modes = {"per_minute": "0", "reused": "15"}
    servers = {mode: StreamlitServer({"ACCORD_DATABASE_URL": db_url, "ACCORD_AS_OF_REUSE_MINUTES": minutes},
                                     logs / f"later-{mode}.log") for mode, minutes in modes.items()}  # fmt: skip
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            context = browser.new_context(viewport={"width": 1400, "height": 1000})

            def url(server, name: str) -> str:
                return f"{server.url}/{'' if name == 'overview' else name}"

            for server in servers.values():
                server.wait_healthy(timeout=120)
                for _ in range(2):
                    for name in LATER_PAGES:
                        load(context.new_page(), url(server, name))
            time.sleep(wait_s)
            for name in LATER_PAGES:  # alternating, so that other load on the machine falls on both alike
                for mode, server in servers.items():
                    results[f"{name}_later_tab_{mode}_s"] = load(context.new_page(), url(server, name))
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
    print("a new tab " + f"{wait_s:.0f} s later: " + ", ".join(
        f"{n} {results[f'{n}_later_tab_reused_s']:.2f} s reused / {results[f'{n}_later_tab_per_minute_s']:.2f} s "
        "per minute" for n in LATER_PAGES), flush=True)  # fmt: skip
    return results


def ratios(results: dict[str, float]) -> dict[str, float]:
    """Each later tab's time over the Agreement page's warm new tab of the same run (the floor), when timed."""
    floor = results.get("agreement_warm_s")
    return {
        f"{name.removesuffix('_s')}_over_agreement_warm": value / floor
        for name, value in results.items()
        if floor and "_later_tab_" in name
    }


def time_pack(db_url: str) -> dict[str, float]:
    """The meeting pack of last week end to end, as ``cli.py report`` makes it, and its stages.

    The charts' browser starts while the data are read (reports.meeting_pack.ChartSession), so the stages
    overlap: ``pack_data_s`` is the reading, ``pack_charts_s`` the drawing after it.
    """
    from reports.meeting_pack import meeting_pack

    engine = make_engine(db_url)
    now = pd.Timestamp.now(tz="UTC")
    versions = versions_from_rows(journal.read_agreement_versions(engine, AGREEMENT))
    week = last_closed_week(now, document_in_force(versions, now).timezone)
    stamps: dict[str, float] = {}
    started = time.perf_counter()
    cpu = time.process_time()
    pdf = meeting_pack(engine, AGREEMENT, week, now,
                       progress=lambda stage, done, total: stamps.setdefault(f"{stage}_{done}", time.perf_counter()))  # fmt: skip
    done = time.perf_counter()
    print(f"meeting pack {week}: {len(pdf) / 1024:,.0f} KB", flush=True)
    return {
        "pack_data_s": stamps["reading_1"] - started,
        "pack_charts_s": stamps["charts_6"] - stamps["charts_0"] if "charts_6" in stamps else float("nan"),
        "pack_s": done - started,
        "pack_cpu_s": time.process_time() - cpu,  # this process only: the browser's own CPU is not in it
    }


def time_loaders(db_url: str) -> dict[str, float]:
    """Where a cold load goes: the loaders' main calls, in-process, nothing cached."""
    from streamlit import logger

    logger.set_log_level("error")  # outside a server its caches warn "No runtime found" once per loader
    from data.frames import cut_window, read_window

    engine = make_engine(db_url)
    now = pd.Timestamp.now(tz="UTC").floor("min")
    versions = versions_from_rows(journal.read_agreement_versions(engine, AGREEMENT))
    doc = document_in_force(versions, now)
    period = period_of(now, doc.period, doc.timezone)
    history_start = period_of(now - pd.DateOffset(months=14), doc.period, doc.timezone)["period_start"]
    out = {}
    started, cpu = time.perf_counter(), time.process_time()
    frames = read_window(engine, history_start, period["period_end"])  # Marketing, Sales, Funnel: 15 periods
    out["read_15_periods_s"] = time.perf_counter() - started
    out["read_15_periods_cpu_s"] = time.process_time() - cpu
    out["leads_read"] = float(len(frames["leads"]))
    started = time.perf_counter()
    window = cut_window(frames, period["period_start"], period["period_end"])
    out["cut_period_from_15_periods_s"] = time.perf_counter() - started  # what a second page pays instead
    started = time.perf_counter()
    evaluate(versions, window, period["period_start"], period["period_end"], now)
    out["evaluate_period_s"] = time.perf_counter() - started
    started = time.perf_counter()
    evaluate(versions, frames, history_start, period["period_end"], now)
    out["evaluate_15_periods_s"] = time.perf_counter() - started
    week = week_of(now, doc.timezone)
    start, end = overview_window(versions, week, now)
    started = time.perf_counter()
    week_overview(
        versions, frames, journal.read_snapshots(engine, AGREEMENT), week, now, currency=doc.currency
    )
    out["week_overview_s"] = time.perf_counter() - started
    started = time.perf_counter()
    read_window(engine, start, end)
    out["read_overview_window_s"] = time.perf_counter() - started
    # Each page's view (views/): everything the page shows, computed from frames already read.
    from views.filters import filters_for
    from views.funnel import funnel_view
    from views.marketing import marketing_view
    from views.overview import overview_view
    from views.sales import sales_view

    f = filters_for(versions, now)
    snapshots = journal.read_snapshots(engine, AGREEMENT)
    # What the pages' loaders do now: the Marketing and Funnel histories from aggregate queries.
    from data.aggregates import history_figures
    from data.funnel_aggregates import funnel_history

    started = time.perf_counter()
    marketing_history = history_figures(engine, versions, f, history_start)
    out["marketing_history_sql_s"] = time.perf_counter() - started
    started = time.perf_counter()
    history = funnel_history(engine, versions, f, history_start)
    out["funnel_history_sql_s"] = time.perf_counter() - started
    for name, build in (
        ("overview_view_s", lambda: overview_view(versions, frames, snapshots, f, week)),
        ("marketing_view_s", lambda: marketing_view(versions, window, marketing_history, f, history_start)),
        ("sales_view_s", lambda: sales_view(versions, window, window, f)),
        ("funnel_view_s", lambda: funnel_view(versions, history, f, history_start)),
    ):
        started = time.perf_counter()
        build()
        out[name] = time.perf_counter() - started
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="demo leads (default 1,000,000)")
    parser.add_argument("--db", type=Path, help="SQLite file to use (built there when missing; kept)")
    parser.add_argument("--warm-runs", type=int, default=3, help="warm loads per page (default 3)")
    parser.add_argument("--pages", nargs="*", help="url paths of the pages to time (default: all)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the loaders' in-process breakdown "
                        "(at 10M it reads millions of rows into this process; bench/profile_page.py instead)")  # fmt: skip
    parser.add_argument("--later-wait", type=float, default=120, help="seconds between a page's last open and "
                        "the new tab timed with the as_of reused and per minute (default 120; 0: skip)")  # fmt: skip
    parser.add_argument("--url", help="a database URL (e.g. PostgreSQL) to time instead of a SQLite file; the "
                        "demo is loaded there when it is empty, and the pages freeze last week in it")  # fmt: skip
    args = parser.parse_args(argv)
    if args.url:
        return main_on_url(args)

    folder = Path(tempfile.mkdtemp(prefix="accord-bench-pages-"))
    try:
        path = args.db or folder / "bench.db"
        results: dict[str, float] = {"build_s": build(path, args.leads)}
        results["load_average_before"] = os.getloadavg()[0]  # other work on the machine inflates every time
        counts = queries.table_counts(make_engine(f"sqlite:///{path}"))
        results["leads"] = float(counts["leads"])
        print(f"demo company: {', '.join(f'{n:,} {t}' for t, n in counts.items())} in {path}", flush=True)
        # The pages freeze last week on first open: time them on a copy, so --db stays as built.
        copy = folder / "pages.db"
        shutil.copy(path, copy)
        url = f"sqlite:///{copy}"
        if not args.no_breakdown:
            results.update(time_loaders(url))
        results.update(time_pages(url, args.warm_runs, folder, args.pages))
        if args.later_wait > 0:
            results.update(time_later_tabs(url, folder, args.later_wait))
            results.update(ratios(results))
        results.update(time_pack(url))
        results["load_average_after"] = os.getloadavg()[0]
        times = os.times()  # this process and the processes it waited for (the servers, Playwright's driver)
        results["cpu_s"] = times.user + times.system + times.children_user + times.children_system
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print()
    for name, value in results.items():
        print(
            f"{name}: {value:.2f}"
            if isinstance(value, float) and not name.startswith("leads")
            else f"{name}: {value:,.0f}"
        )
    return results


def main_on_url(args) -> dict[str, float]:
    """:func:`main` on the database at ``args.url`` (PostgreSQL): no copy is made."""
    from bootstrap import load_demo_if_empty

    engine = make_engine(args.url)
    upgrade(engine)
    started = time.perf_counter()
    load_demo_if_empty(engine, leads=args.leads, progress=lambda table, done, total: None)
    results: dict[str, float] = {"build_s": time.perf_counter() - started}
    results["load_average_before"] = os.getloadavg()[0]
    results["leads"] = float(queries.table_counts(engine)["leads"])
    engine.dispose()
    folder = Path(tempfile.mkdtemp(prefix="accord-bench-pages-"))
    try:
        if not args.no_breakdown:
            results.update(time_loaders(args.url))
        results.update(time_pages(args.url, args.warm_runs, folder, args.pages))
        if args.later_wait > 0:
            results.update(time_later_tabs(args.url, folder, args.later_wait))
            results.update(ratios(results))
        results.update(time_pack(args.url))
        results["load_average_after"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print()
    for name, value in results.items():
        print(f"{name}: {value:,.0f}" if name.startswith("leads") else f"{name}: {value:.2f}")
    return results


if __name__ == "__main__":
    os.environ.setdefault("ACCORD_DEMO_LEADS", "1000000")
    main()
