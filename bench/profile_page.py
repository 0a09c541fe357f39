"""Where one page's cold load goes: py-spy samples of a fresh page server while Chromium loads the page.

Run: ``.venv/bin/python bench/profile_page.py --url
postgresql+psycopg://accord@127.0.0.1:55432/accord_bench10m --page overview`` (``--py-spy`` defaults to
``py-spy`` on the PATH: ``pip install py-spy==0.4.3``, a profiler, not a requirement). Starts ``streamlit
run app.py`` on the database, attaches ``py-spy record`` (100 samples/s, idle samples kept, so waiting on
the database counts as the wall time it is; only the script thread's stacks are counted) and loads the page
once in headless Chromium as ``bench/bench_pages.py`` times it (cold). Prints the frames with the most
samples inclusive of what they call, the cold seconds and the server's peak memory as ``name: value`` lines,
and keeps the collapsed stacks (``--out``, for a flame graph).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.bench_pages import load, peak_rss_mb  # noqa: E402
from pages.components.navigation import PAGES  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS, StreamlitServer  # noqa: E402


def inclusive(stacks: Path, top: int) -> list[tuple[str, int]]:
    """The ``top`` frames with the most samples (each counted once per stack), from py-spy's raw output."""
    totals: collections.Counter[str] = collections.Counter()
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = {
            f"{frame.split(' (')[0]} ({frame.split(' (')[-1].split(':')[0].rstrip(')')})"
            for frame in stack.split(";")
        }
        if "ScriptRunner" not in stack:  # the page's script thread only; the server's idle threads left out
            continue
        for frame in frames:
            totals[frame] += int(count)
    return totals.most_common(top)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="database URL")
    parser.add_argument("--page", default="sales", help="the page's url path (default sales)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/spy/bin/py-spy",
                        help="the py-spy binary (a profiler, not a requirement: pip install py-spy==0.4.3)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "accord-page-profile.txt")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    if not Path(args.py_spy).is_file():
        raise SystemExit(f"no py-spy at {args.py_spy}: pip install py-spy==0.4.3, or pass --py-spy PATH")
    spec = next(s for s in PAGES if s.url_path == args.page)
    folder = Path(tempfile.mkdtemp(prefix="accord-profile-"))
    server = StreamlitServer({"ACCORD_DATABASE_URL": args.url}, folder / "server.log")
    results: dict[str, float] = {}
    try:
        server.wait_healthy(timeout=120)
        spy = subprocess.Popen(
            [
                args.py_spy,
                "record",
                "--pid",
                str(server.process.pid),
                "--rate",
                "100",
                "--format",
                "raw",
                "--output",
                str(args.out),
                "--threads",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1)  # py-spy attached
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            url = f"{server.url}/{'' if spec.default else spec.url_path}"
            results["cold_s"] = load(page, url)
            browser.close()
        results["server_peak_mb"] = peak_rss_mb(server.process.pid)
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    finally:
        server.stop()
    print(
        f"{spec.title} cold, samples inclusive (100/s, idle kept: waits on the database count), stacks in {args.out}:"
    )
    for frame, samples in inclusive(args.out, args.top):
        print(f"  {samples / 100:7.2f} s  {frame}")
    print()
    for name, value in results.items():
        print(f"{name}: {value:.2f}")
    return results


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
