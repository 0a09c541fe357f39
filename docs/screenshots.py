"""The README's screenshots: every page of Accord on the demo company, in headless Chromium.

Run: ``make screenshots`` (or ``.venv/bin/python docs/screenshots.py``). Serves
the dashboard on a copy of the default database (``var/accord.db``, where
``make run`` puts the demo company; built if missing) so nothing is written to
it, opens each page in Debian's Chromium and saves ``docs/screenshots/<page>.png``:
the top of the page, as wide as a laptop screen, as far down as ``--height``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM_ARGS, serving, wait_for_app  # noqa: E402
from tests.conftest import chromium_path  # noqa: E402

# url path -> file name; "" is the default page (Overview).
PAGES = {"": "overview", "marketing": "marketing", "sales": "sales", "funnel": "funnel",
         "agreement": "agreement", "data": "data"}  # fmt: skip
OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", type=Path, default=ROOT / "var" / "accord.db", help="the SQLite database to copy"
    )
    parser.add_argument("--height", type=int, default=1800, help="pixels of each page to keep")
    args = parser.parse_args()
    if not args.db.exists():
        sys.exit(f"{args.db} does not exist: run `make run` once (it loads the demo company), then try again")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "accord.db"
        shutil.copyfile(args.db, copy)
        env = {"ACCORD_DATABASE_URL": f"sqlite:///{copy}"}
        with serving(env, Path(folder) / "streamlit.log") as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": args.height})
            OUT.mkdir(parents=True, exist_ok=True)
            for path, name in PAGES.items():
                page.goto(f"{server.url}/{path}")
                wait_for_app(page, timeout=300_000)
                page.mouse.move(1, 1)  # no tooltip
                page.wait_for_timeout(1_000)  # plotly finishes drawing
                page.screenshot(path=str(OUT / f"{name}.png"))
                print(f"wrote {OUT / f'{name}.png'}")
            browser.close()


if __name__ == "__main__":
    main()
