"""Did a page get slower? This tree's pages against an earlier commit's, interleaved in one run, in headless Chromium.

Run: ``.venv/bin/python bench/bench_pages_against.py --ref 1c4ea9d`` (minutes; without ``--ref`` the working
tree is compared with its last commit, HEAD). Options: ``--leads N``
(default 100,000), ``--rounds N`` (default 5), ``--pages marketing sales`` (default every dashboard page).

Page timings on a shared 2-core machine swing with whatever else runs (the same warm load has measured 2.8 s
and 4.0 s an hour apart), so "nothing got slower" cannot be read from two runs at different times. This bench
checks out ``--ref`` into a temporary git worktree, builds each side's demo company with its own code
(``bench_pages.build`` of that side), starts one Streamlit server per side and then, page by page and round by
round, loads the ref's page and this tree's page one right after the other in the same browser: both sides
meet the same load. Timed as ``bench_pages``: **warm** is a new tab until the script finished and nothing is
a skeleton; **menu** is a click in the sidebar from the Overview until that page finished. **fragment** (this
tree only, where the page has one) is choosing a figure under "Records behind a figure" until its records show.

Prints per page the medians of both sides and ``<page>_warm_ratio`` / ``<page>_menu_ratio`` (this tree / ref;
below 1 is faster), then ``name: value`` lines.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from bench.bench_pages import load, switch  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS, StreamlitServer  # noqa: E402

PAGES = {"overview": "Overview", "marketing": "Marketing", "sales": "Sales", "funnel": "Funnel",
         "agreement": "Agreement"}  # fmt: skip
FRAGMENTS = {"marketing": "marketing_records_figure", "sales": "sales_records_figure"}


def build_with(root: Path, path: Path, leads: int) -> None:
    """The demo company of the code at ``root`` (its own generator and schema) in the SQLite file ``path``."""
    code = f"import sys; from pathlib import Path; sys.path.insert(0, '.'); import bench.bench_pages as b; b.build(Path({str(path)!r}), {leads})"  # fmt: skip
    subprocess.run(
        [sys.executable, "-c", code], cwd=root, check=True, env={**os.environ, "PYTHONPATH": str(root)}
    )


def server_for(root: Path, db: Path, log: Path) -> StreamlitServer:
    """A healthy Streamlit server running ``root``'s app.py on ``db`` (cwd ``root``: its own .streamlit config)."""
    env = {"ACCORD_DATABASE_URL": f"sqlite:///{db}", "PYTHONPATH": str(root)}
    server = StreamlitServer(env, log, cwd=root, app=root / "app.py")
    server.wait_healthy(timeout=180)
    return server


def open_records(page, key: str) -> float:
    """Seconds from choosing the first figure under "Records behind a figure" until its records' sentence shows
    (NaN, with the reason printed, when they do not show within two minutes)."""
    try:
        box = page.locator(f".st-key-{key}").get_by_role("combobox")
        box.scroll_into_view_if_needed(timeout=120_000)
        box.click(timeout=120_000)
        option = page.get_by_role("option").first
        try:
            option.wait_for(timeout=5_000)
        except PlaywrightError:  # the click landed while the charts above were still laying out: ask again
            box.press("ArrowDown")
            option.wait_for(timeout=120_000)
        started = time.perf_counter()
        option.click(timeout=120_000)
        page.get_by_text(re.compile(r"^The [\d,]+ (leads?|deals?) behind ")).first.wait_for(timeout=120_000)
        page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=120_000)
    except PlaywrightError as exc:
        print(f"records behind a figure did not open: {str(exc).splitlines()[0]}", flush=True)
        return float("nan")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ref", default="HEAD", help="the commit to compare with (default HEAD: your uncommitted change)"
    )
    parser.add_argument(
        "--leads", type=int, default=100_000, help="demo leads on each side (default 100,000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="loads per page and side (default 5)")
    parser.add_argument("--pages", nargs="*", default=list(PAGES), help="pages to time (default: all)")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="accord-bench-against-"))
    ref_root = folder / "ref"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(ref_root), args.ref], cwd=ROOT, check=True
    )
    servers: list[StreamlitServer] = []
    results: dict[str, float] = {"load_average_before": os.getloadavg()[0]}
    try:
        sides = {"ref": ref_root, "this": ROOT}
        for side, root in sides.items():
            started = time.perf_counter()
            build_with(root, folder / f"{side}.db", args.leads)
            print(f"{side}: demo company of {args.leads:,} leads built in {time.perf_counter() - started:.0f} s",
                  flush=True)  # fmt: skip
        servers = [
            server_for(root, folder / f"{side}.db", folder / f"{side}.log") for side, root in sides.items()
        ]
        urls = dict(zip(sides, (s.url for s in servers), strict=True))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            for page_name in args.pages:
                path = "" if page_name == "overview" else page_name
                warm: dict[str, list[float]] = {side: [] for side in sides}
                menu: dict[str, list[float]] = {side: [] for side in sides}
                for side in sides:  # the cold load (reads, caches, the Overview's freeze) is not compared
                    tab = context.new_page()
                    load(tab, f"{urls[side]}/{path}")
                    tab.close()
                for _ in range(args.rounds):
                    for side in sides:
                        tab = context.new_page()
                        warm[side].append(load(tab, f"{urls[side]}/{path}"))
                        tab.close()
                        if page_name != "overview":
                            tab = context.new_page()
                            load(tab, urls[side])
                            menu[side].append(switch(tab, PAGES[page_name]))
                            tab.close()
                for kind, timed in (("warm", warm), ("menu", menu)):
                    if not timed["this"]:
                        continue
                    ref, this = statistics.median(timed["ref"]), statistics.median(timed["this"])
                    results[f"{page_name}_{kind}_ref_s"] = ref
                    results[f"{page_name}_{kind}_this_s"] = this
                    results[f"{page_name}_{kind}_ratio"] = this / ref
                    print(f"{page_name} {kind}: ref {ref:.2f} s, this tree {this:.2f} s, ratio {this / ref:.2f}",
                          flush=True)  # fmt: skip
                if page_name in FRAGMENTS:
                    opened = []
                    for _ in range(args.rounds):
                        tab = context.new_page()
                        load(tab, f"{urls['this']}/{path}")
                        opened.append(open_records(tab, FRAGMENTS[page_name]))
                        tab.close()
                    results[f"{page_name}_records_open_s"] = statistics.median(opened)
                    print(f"{page_name} records open: {statistics.median(opened):.2f} s", flush=True)
            browser.close()
        results["load_average_after"] = os.getloadavg()[0]
    finally:
        for server in servers:
            server.stop()
        subprocess.run(["git", "worktree", "remove", "--force", str(ref_root)], cwd=ROOT, check=False)
        shutil.rmtree(folder, ignore_errors=True)
    print()
    for name, value in results.items():
        print(f"{name}: {value:.2f}")
    return results


if __name__ == "__main__":
    main()
