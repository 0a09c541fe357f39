"""Settings are read at the edges (cli.py, the command modules, the pages, bootstrap) and passed in:
the engine factory and the file import work with ``settings.get`` unavailable."""

from __future__ import annotations

import pytest

import settings
from connectors.files import Mapping, import_file, list_mappings, load_mapping, save_mapping
from data import queries
from data.engine import make_engine, upgrade


@pytest.fixture
def no_settings(monkeypatch):
    def refuse(name, *args, **kwargs):
        raise AssertionError(f"{name} was read deep inside instead of being passed in")

    monkeypatch.setattr(settings, "get", refuse)


def test_engine_and_file_import_take_the_url_and_mappings_folder_as_arguments(tmp_path, no_settings):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine)
    folder = tmp_path / "maps"
    save_mapping(Mapping(table="owners", columns={"external_id": "id", "name": "who"}), "people", folder)
    assert list_mappings(folder) == ["people"]
    csv = tmp_path / "owners.csv"
    csv.write_text("id,who\nu1,Ada\nu2,Grace\n")
    report = import_file(engine, csv, "owners", "people", mappings_folder=folder, source="upload")
    assert report.accepted == 2
    assert sorted(queries.read_owners(engine)["name"]) == ["Ada", "Grace"]
    assert load_mapping("people", folder).table == "owners"


def test_the_edges_read_the_database_url_and_mappings_folder_from_the_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    monkeypatch.setenv("ACCORD_MAPPINGS_DIR", "somewhere/maps")
    assert settings.database_url() == f"sqlite:///{tmp_path / 'b.db'}"
    assert settings.mappings_dir() == settings.ROOT / "somewhere" / "maps"
