"""What the Marketing, Sales and Funnel page tests hold the pages against.

The expected numbers are computed here straight from repository frames and the
analytics functions, never through the pages' cached loaders; the pages are
opened under AppTest with ``as_of`` pinned, so both sides look at the same instant.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

import settings
from analytics.agreement import versions_from_rows
from analytics.slicing import slice_frames
from bootstrap import ensure_default_agreement
from data import journal, queries, upserts
from data.engine import make_engine, upgrade
from data.frames import ACTIVITY_TAIL
from pages.components.filters import Filters

APP = str(settings.ROOT / "app.py")
AGREEMENT = "Sales and Marketing SLA"


def pinned_as_of() -> str:
    """``?as_of=`` for yesterday: the end of yesterday is 00:00 UTC today, where the demo data ends."""
    return (dt.date.today() - dt.timedelta(days=1)).isoformat()


def open_page(monkeypatch, tmp_path, url: str, page: str, **params) -> AppTest:
    """The app run on ``url`` straight on ``page`` (e.g. "pages/sales.py") with query ``params``; no exception."""
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    monkeypatch.setattr(settings, "SECRETS_FILE", tmp_path / "no-secrets.toml")  # runs open, as an admin
    at = AppTest.from_file(APP, default_timeout=120)
    params.setdefault("as_of", pinned_as_of())
    for name, value in params.items():
        at.query_params[name] = value
    # Run once first: st.navigation registers the pages in that run (switching before it does not route
    # through app.py in every setting, and then the page would run without the sidebar's filters).
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def copy_database(url: str, folder: Path) -> str:
    """A private copy of a SQLite database, for a test that writes (the session's demo database is shared)."""
    target = folder / "copy.db"
    shutil.copyfile(url.removeprefix("sqlite:///"), target)
    return f"sqlite:///{target}"


def empty_crm(folder: Path) -> str:
    """A database with the default agreement and one owner but no leads: a CRM connected, nothing synced yet.

    The owner keeps the first start from loading the demo company (it only fills an empty database).
    """
    url = f"sqlite:///{folder / 'empty.db'}"
    engine = make_engine(url)
    upgrade(engine)
    ensure_default_agreement(engine)
    upserts.upsert_owners(engine, pd.DataFrame({"source": ["crm"], "external_id": ["o-1"], "name": ["Kim"]}))
    engine.dispose()
    return url


def shown_filters(at: AppTest) -> Filters:
    """The filters the app drew in its last run (the inputs the page computed from)."""
    return at.session_state["_accord_filters"]


def versions(url: str):
    return versions_from_rows(journal.read_agreement_versions(make_engine(url), AGREEMENT))


def repository_frames(
    url: str, start: pd.Timestamp, end: pd.Timestamp, f: Filters
) -> dict[str, pd.DataFrame]:
    """The canonical frames of [start, end), read from the repository and sliced to the filters' selection.

    The window rule of the dashboard: leads handed over in it (plus the leads of
    its deals), deals created or closed in it, activities until 28 days after.
    """
    engine = make_engine(url)
    frames = {
        "owners": queries.read_owners(engine),
        "leads": queries.read_leads(engine, start, end, with_deal_leads=True),
        "deals": queries.read_deals(engine, start, end),
        "activities": queries.read_activities(engine, start, end + ACTIVITY_TAIL),
    }
    engine.dispose()
    return slice_frames(frames, teams=f.teams, owners=f.owners, channels=f.channels)


def metrics(at: AppTest) -> dict[str, str]:
    """Label -> shown value of every st.metric."""
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest) -> list[str]:
    """Every markdown, info and success text of the run."""
    return [e.value for e in (*at.markdown, *at.info, *at.success)]


def infos(at: AppTest) -> list[str]:
    return [e.value for e in at.info]


def charts(at: AppTest) -> dict[str, dict]:
    """Title -> figure JSON of every plotly chart."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def table(at: AppTest, *columns: str) -> pd.DataFrame:
    """The frame of the one st.dataframe whose first columns are ``columns`` (AppTest shows no dataframe keys)."""
    found = [d.value for d in at.dataframe if list(d.value.columns[: len(columns)]) == list(columns)]
    assert len(found) == 1, (
        f"{len(found)} dataframes start with {columns}: {[list(d.value.columns) for d in at.dataframe]}"
    )
    return found[0]


def trace_values(values) -> np.ndarray:
    """A trace's x or y from figure JSON: a list, or plotly's typed array ``{"dtype", "bdata"}``."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


def download_keys(at: AppTest) -> set[str]:
    return {b.key for b in at.get("download_button")}
