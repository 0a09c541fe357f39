"""Settings: precedence, masking, and that every setting is documented (a meta-test)."""

from __future__ import annotations

import pytest

import settings


def test_environment_beats_secrets_file_beats_default(monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('HUBSPOT_BASE_URL = "http://from-file"\n')
    monkeypatch.delenv("HUBSPOT_BASE_URL", raising=False)
    assert settings.get("HUBSPOT_BASE_URL", tmp_path / "missing.toml") == "https://api.hubapi.com"
    assert settings.source_of("HUBSPOT_BASE_URL", tmp_path / "missing.toml") == "default"
    assert settings.get("HUBSPOT_BASE_URL", secrets) == "http://from-file"
    assert settings.source_of("HUBSPOT_BASE_URL", secrets) == "secrets.toml"
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://from-env")
    assert settings.get("HUBSPOT_BASE_URL", secrets) == "http://from-env"
    assert settings.source_of("HUBSPOT_BASE_URL", secrets) == "environment"


def test_unknown_setting_lists_the_known_ones():
    with pytest.raises(settings.SettingError, match="ACCORD_DATABASE_URL"):
        settings.get("ACCORD_NOPE")


def test_a_broken_secrets_file_names_itself(tmp_path):
    broken = tmp_path / "secrets.toml"
    broken.write_text("HUBSPOT_ACCESS_TOKEN = \n")
    with pytest.raises(settings.SettingError, match="secrets.toml: not valid TOML"):
        settings.get("HUBSPOT_ACCESS_TOKEN", broken)


@pytest.mark.parametrize("secret", ["pat-na1-11112222-3333-4444-5555-666677778888", "short", "x" * 13])
def test_mask_never_shows_more_than_eight_characters(secret):
    shown = settings.mask(secret)
    assert secret not in shown
    assert len(shown.replace("…", "")) <= 8


def test_masked_url_hides_the_password():
    assert "s3cret" not in settings.masked_url("postgresql+psycopg://u:s3cret@h/db")
    assert settings.masked_url("::::") == "(unparseable URL)"


def test_every_setting_is_documented_in_the_readme():
    readme = (settings.ROOT / "README.md").read_text()
    undocumented = [s.name for s in settings.SETTINGS if f"`{s.name}`" not in readme]
    assert not undocumented, f"add these settings to the README's Configuration table: {undocumented}"
    assert all(s.help.strip() for s in settings.SETTINGS)


def test_the_readme_glossary_matches_the_code():
    from analytics.metrics import GLOSSARY

    readme = (settings.ROOT / "README.md").read_text()
    stale = [term for term, text in GLOSSARY.items() if f"- **{term}**: {text}" not in readme]
    assert not stale, f"regenerate the README glossary from analytics.metrics.GLOSSARY: {stale}"
