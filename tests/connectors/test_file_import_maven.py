"""The public Maven CRM sample imports as owners and deals with the committed mappings, and its
README's known facts hold in the database (read in place from ../shared/datasets/maven-crm)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from connectors.files import import_file, load_preset, propose_mapping, read_preview
from connectors.files.reading import iter_chunks, sniff
from data import journal, queries
from tests.conftest import dataset_folder, require_dataset

MAVEN = dataset_folder("maven-crm")
AS_OF = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module", autouse=True)
def maven_data_set():
    """The data set must be here: these tests run in CI, never skipped there."""
    require_dataset("maven-crm")


@pytest.fixture
def maven(sqlite_engine):
    owners = import_file(
        sqlite_engine, MAVEN / "sales_teams.csv", "owners", load_preset("maven-crm-owners"), as_of=AS_OF
    )
    deals = import_file(
        sqlite_engine, MAVEN / "sales_pipeline.csv", "deals", load_preset("maven-crm-deals"), as_of=AS_OF
    )
    return sqlite_engine, owners, deals


def test_every_row_imports_and_nothing_is_rejected(maven):
    engine, owners, deals = maven
    assert (owners.read, owners.imported, owners.rejected) == (35, 35, 0)
    assert (deals.read, deals.imported, deals.rejected, deals.duplicates) == (8_800, 8_800, 0, 0)
    assert deals.owners_created == 0  # every agent of the pipeline is in sales_teams.csv
    assert journal.read_rejected_rows(engine).empty


def test_stages_and_won_lost_match_the_readme(maven):
    deals = queries.read_deals(maven[0])
    assert deals["stage"].value_counts().to_dict() == {
        "Won": 4_238,
        "Lost": 2_473,
        "Engaging": 1_589,
        "Prospecting": 500,
    }
    assert deals["is_won"].sum() == 4_238
    assert deals["is_closed"].sum() == 4_238 + 2_473
    assert deals.loc[deals["stage"].isin(["Engaging", "Prospecting"]), "is_won"].eq(False).all()


def test_dates_and_values_match_the_readme(maven):
    deals = queries.read_deals(maven[0])
    created, closed = deals["created_at"], deals["closed_at"]
    assert (created.min(), created.max()) == (
        pd.Timestamp("2016-10-20", tz="UTC"),
        pd.Timestamp("2017-12-27", tz="UTC"),
    )
    assert created.isna().sum() == 500 and deals.loc[created.isna(), "stage"].eq("Prospecting").all()
    assert (closed.min(), closed.max()) == (
        pd.Timestamp("2017-03-01", tz="UTC"),
        pd.Timestamp("2017-12-31", tz="UTC"),
    )
    open_deals = ~deals["is_closed"].astype(bool)
    assert closed[open_deals].isna().all() and closed[~open_deals].notna().all()
    won, lost = deals[deals["stage"] == "Won"], deals[deals["stage"] == "Lost"]
    assert (won["amount"] > 0).all() and (lost["amount"] == 0).all()
    assert deals.loc[open_deals, "amount"].isna().all()
    assert set(deals["currency"]) == {"USD"}


def test_agents_managers_and_offices_match_the_readme(maven):
    engine = maven[0]
    deals, owners = queries.read_deals(engine), queries.read_owners(engine)
    assert deals["owner_external_id"].nunique() == 30
    assert deals["owner_id"].notna().all() and deals["team"].notna().all()
    assert len(owners) == 35 and owners["team"].nunique() == 3
    assert sorted(owners["team"].unique()) == ["Central", "East", "West"]
    # managers have no canonical column; the reader still sees them as the file holds them
    teams = next(iter_chunks(MAVEN / "sales_teams.csv", sniff(MAVEN / "sales_teams.csv"))).frame
    assert teams["manager"].nunique() == 6


def test_reimporting_the_sample_changes_nothing(maven):
    engine = maven[0]
    before = queries.read_deals(engine)
    again = import_file(
        engine, MAVEN / "sales_pipeline.csv", "deals", load_preset("maven-crm-deals"), as_of=AS_OF
    )
    assert (again.imported, again.updated, again.rejected) == (0, 8_800, 0)
    pd.testing.assert_frame_equal(before, queries.read_deals(engine))
    assert queries.table_counts(engine)["deals"] == 8_800


def test_the_committed_mappings_are_proposed_for_the_files():
    for name, table, preset in [
        ("sales_pipeline.csv", "deals", "maven-crm-deals"),
        ("sales_teams.csv", "owners", "maven-crm-owners"),
    ]:
        preview = read_preview(MAVEN / name)
        assert preview.format.describe() == "CSV, utf-8-sig, comma-separated"
        assert propose_mapping(preview.headers, table).preset == preset
