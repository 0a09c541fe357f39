"""Fixtures of the HubSpot connector tests: a seeded local HubSpot and a configuration aimed at it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics.schema import COLUMNS
from connectors.hubspot.settings import HubSpotConfig
from data import queries
from tests.connectors.hubspot.fake_hubspot import FakeHubSpot, expected_canonical, seeded_frames

TOKEN = "pat-na1-5e1f0c2a-7d3b-4c88-9a61-0f2e4b6d8c10"
TODAY = dt.date(2026, 6, 30)
LEADS = 300


@pytest.fixture(scope="session")
def demo_frames() -> dict[str, pd.DataFrame]:
    """A small demo company (300 leads), generated once per session; do not mutate."""
    return seeded_frames(LEADS, today=TODAY)


@pytest.fixture
def fake_hubspot(demo_frames):
    """A local HubSpot seeded with the demo company; ``.seed_map`` maps demo ids to HubSpot ids."""
    fake = FakeHubSpot(TOKEN, search_per_second=20)  # tests of the real 5/s search limit set their own
    fake.seed_map = fake.seed(demo_frames)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def hubspot_config(fake_hubspot) -> HubSpotConfig:
    """The connector aimed at the fake server: pages of 50 (several pages from a small seed), fast backoff."""
    # Small commits too, so that interrupted syncs have checkpoints to resume from.
    return HubSpotConfig(
        token=TOKEN,
        base_url=fake_hubspot.base_url,
        page_size=50,
        search_per_second=20,
        backoff_seconds=0.05,
        timeout=(2.0, 5.0),
        flush_rows=100,
    )


@pytest.fixture
def expected(demo_frames, fake_hubspot) -> dict[str, pd.DataFrame]:
    """The canonical rows a faithful sync of the seeded server stores."""
    return expected_canonical(demo_frames, fake_hubspot.seed_map)


def stored(engine) -> dict[str, pd.DataFrame]:
    """The hubspot rows in the database, shaped like :func:`expected_canonical`."""
    reads = {
        "owners": queries.read_owners(engine, source="hubspot"),
        "leads": queries.read_leads(engine, source="hubspot"),
        "deals": queries.read_deals(engine, source="hubspot"),
        "activities": queries.read_activities(engine, source="hubspot"),
    }
    out = {}
    for table, frame in reads.items():
        columns = [
            c for c in COLUMNS[table] if c not in ("id", "owner_id", "lead_id")
        ]  # surrogate ids differ
        out[table] = frame[columns].sort_values("external_id").reset_index(drop=True)
    return out


def assert_same_rows(actual: dict[str, pd.DataFrame], wanted: dict[str, pd.DataFrame]) -> None:
    """Every table has exactly the wanted rows, column by column (the message names table and column)."""
    for table, frame in wanted.items():
        got = actual[table][list(frame.columns)]
        assert len(got) == len(frame), f"{table}: {len(got)} rows, expected {len(frame)}"
        pd.testing.assert_frame_equal(got, frame, check_dtype=True, obj=table)
