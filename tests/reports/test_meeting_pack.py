"""The meeting pack PDF, weekly snapshots in the database, and ``cli.py report`` / ``cli.py snapshot``."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import plotly.graph_objects as go
import pytest

import cli
from analytics.agreement import versions_from_rows
from analytics.commitments import document_in_force
from analytics.periods import last_closed_week, shift_week, week_of, week_row
from data import journal, upserts
from data.engine import make_engine
from reports import meeting_pack as pack
from reports.weeks import freeze_last_closed_week, freeze_week, load_overview
from tests.conftest import chromium_path

AGREEMENT = "Sales and Marketing SLA"
TITLES = ("MQL volume", "Sourced pipeline", "MQL acceptance", "Speed to lead", "Touches", "Disposition")
TZ = "Europe/Berlin"  # the default agreement's


@pytest.fixture
def demo_copy(demo_db_url, tmp_path) -> str:
    """A writable copy of the shared demo database (3,000 leads, the default agreement)."""
    path = tmp_path / "accord.db"
    shutil.copy(demo_db_url.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(demo_copy):
    engine = make_engine(demo_copy)
    yield engine
    engine.dispose()


@pytest.fixture
def now() -> pd.Timestamp:
    """Wednesday noon of the current week: the demo company's data runs until today."""
    today = pd.Timestamp.now(tz="UTC").floor("D")
    return today - pd.Timedelta(days=7) + pd.Timedelta(days=2 - today.weekday(), hours=11)


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "pack.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def pages_of(text: str) -> list[str]:
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def test_the_pack_has_an_overview_page_and_one_page_per_side(engine, now, tmp_path):
    week = week_of(now, TZ)
    data = pack.meeting_pack(engine, AGREEMENT, week, now, charts=False)
    assert data.startswith(b"%PDF")
    text = pdf_text(data, tmp_path)
    first, marketing, sales = pages_of(text)
    assert f"meeting pack, {week}" in first and "The three biggest gaps" in first
    for title in TITLES:
        assert title in first
    assert "Marketing —" in marketing and "MQL volume" in marketing and "Speed to lead" not in marketing
    assert "Sales —" in sales and "Speed to lead" in sales and "MQL volume" not in sales
    # The numbers are the overview's: this week's MQLs as computed by the analytics layer.
    overview = load_overview(engine, AGREEMENT, week, now)
    mqls = overview.week_rows().set_index("commitment").loc["mql-volume", "actual"]
    assert f"{mqls:,.0f} leads" in first


def test_the_pack_draws_a_chart_per_commitment(engine, now, tmp_path):
    chromium_path()  # kaleido needs the browser (a skip locally without it, a failure in CI)
    data = pack.meeting_pack(engine, AGREEMENT, last_closed_week(now, TZ), now)
    path = tmp_path / "pack.pdf"
    path.write_bytes(data)
    images = subprocess.run(
        ["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout
    pages = [int(cells[0]) for cells in map(str.split, images.splitlines()[2:]) if cells[2] == "image"]
    assert pages == [2, 2, 2, 3, 3, 3]  # three commitments a side, one chart each
    assert "Charts are left out" not in pdf_text(data, tmp_path)


def test_without_a_browser_the_pack_says_why_the_charts_are_missing(engine, now, tmp_path, monkeypatch):
    def no_browser(figures, *args, **kwargs):
        raise pack.ChartRenderError("charts need Chromium for kaleido (ChromeNotFoundError); install it")

    monkeypatch.setattr(pack, "render_pngs", no_browser)
    text = pdf_text(pack.meeting_pack(engine, AGREEMENT, week_of(now, TZ), now), tmp_path)
    assert "Charts are left out: charts need Chromium" in text


def test_without_chromium_the_session_says_what_to_install(engine, now, tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium"))
    with (
        pack.ChartSession() as session,
        pytest.raises(pack.ChartRenderError, match="apt-get install chromium"),
    ):
        session.render([go.Figure(go.Bar(x=[1], y=[2]))])
    text = pdf_text(pack.meeting_pack(engine, AGREEMENT, week_of(now, TZ), now), tmp_path)
    assert "Charts are left out: charts need Chromium for kaleido (ChromeNotFoundError)" in text


def test_one_session_draws_every_figure_in_order():
    chromium_path()
    figures = [go.Figure(go.Bar(x=["a"], y=[1])), go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2]))]
    with pack.ChartSession() as session:
        first = session.render(figures, width=300, height=200)
        again = session.render(figures[::-1], width=300, height=200)  # the same browser, a second time
    assert all(png.startswith(b"\x89PNG") for png in first) and first[0] != first[1]
    assert again == first[::-1]
    assert pack.render_pngs([]) == []


def test_a_frozen_week_stays_as_frozen_after_new_data_arrives(engine, now, tmp_path):
    versions = versions_from_rows(journal.read_agreement_versions(engine, AGREEMENT))
    last = last_closed_week(now, TZ)
    frozen = freeze_last_closed_week(engine, AGREEMENT, now)
    assert (frozen.week, frozen.final, frozen.written) == (last, True, True)
    assert freeze_last_closed_week(engine, AGREEMENT, now) is None  # already frozen for good
    before = load_overview(engine, AGREEMENT, week_of(now, TZ), now)
    was = before.previous.set_index("commitment").loc["mql-volume", "actual"]

    # Three late leads of last week arrive (a sync after the freeze).
    start = week_row(last, document_in_force(versions, now).timezone)["period_start"]
    late = pd.DataFrame({"source": "late", "external_id": ["a", "b", "c"], "created_at": start + pd.Timedelta(hours=30),
                         "mql_at": start + pd.Timedelta(hours=32)})  # fmt: skip
    upserts.upsert_leads(engine, late)

    after = load_overview(engine, AGREEMENT, week_of(now, TZ), now)
    assert after.previous.set_index("commitment").loc["mql-volume", "actual"] == was  # as frozen
    assert f"{last} MQL volume was {was:,.0f} leads when frozen, {was + 3:,.0f} leads now." in (
        after.corrections["message"].tolist()
    )
    trend = after.trend.set_index(["period", "commitment"])
    assert trend.loc[(last, "mql-volume"), "actual"] == was + 3  # the trend is as known now
    # Freezing again never replaces the final snapshot; the pack shows the frozen number and the correction.
    assert not freeze_week(engine, AGREEMENT, last, now).written
    text = " ".join(pdf_text(pack.meeting_pack(engine, AGREEMENT, last, now, charts=False), tmp_path).split())
    assert "Corrections since freezing" in text and f"was {was:,.0f} leads when frozen" in text


def test_the_current_week_is_frozen_provisionally_and_replaced(engine, now):
    week = week_of(now, TZ)
    first = freeze_week(engine, AGREEMENT, week, now)
    second = freeze_week(engine, AGREEMENT, week, now + pd.Timedelta(hours=1))
    assert (first.final, first.written, second.written) == (False, True, True)
    stored = journal.read_snapshots(engine, AGREEMENT, [week])
    assert len(stored) == 1 and not stored["final"].iloc[0]
    assert stored["figures"].iloc[0][0]["as_of"] == (now + pd.Timedelta(hours=1)).isoformat()
    assert "snapshot.freeze" in journal.read_audit(engine)["action"].tolist()


# ----------------------------------------------------------------------------- the command line


def run(monkeypatch, url, *argv) -> int:
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    return cli.main(list(argv))


def test_cli_report_writes_the_pack(monkeypatch, demo_copy, now, tmp_path, capsys):
    out = tmp_path / "out" / "pack.pdf"
    week = shift_week(week_of(now, TZ), -1)
    code = run(monkeypatch, demo_copy, "report", "--week", week, "--out", str(out), "--no-charts",
               "--as-of", now.isoformat())  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert out.read_bytes().startswith(b"%PDF")
    assert f"Meeting pack for {week}" in capsys.readouterr().out


def test_cli_snapshot_freezes_last_week_once_for_cron(monkeypatch, demo_copy, now, capsys):
    assert run(monkeypatch, demo_copy, "snapshot", "--as-of", now.isoformat()) == 0
    assert run(monkeypatch, demo_copy, "snapshot", "--as-of", now.isoformat()) == 0
    out = capsys.readouterr().out.splitlines()
    last = last_closed_week(now, TZ)
    assert out == [f"{AGREEMENT}: {last} frozen (final).",
                   f"{AGREEMENT}: {last} was already frozen for good; the final snapshot is kept as it was."]  # fmt: skip
    assert journal.read_snapshots(make_engine(demo_copy), AGREEMENT)["week"].tolist() == [last]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["snapshot", "--week", "2099-W01"], "has not started"),
        (
            ["snapshot", "--agreement", "Nope"],
            "no agreement named 'Nope'; agreements: 'Sales and Marketing SLA'",
        ),
        (["report", "--agreement", "Nope", "--out", "x.pdf"], "no agreement named 'Nope'"),
    ],
)
def test_cli_errors_are_one_line_and_exit_1(monkeypatch, demo_copy, capsys, argv, says):
    assert run(monkeypatch, demo_copy, *argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and says in err and "\n" not in err


def test_cli_refuses_a_malformed_week(monkeypatch, demo_copy, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(monkeypatch, demo_copy, "report", "--week", "2026-48", "--out", "x.pdf")
    assert exit_.value.code == 2 and "not an ISO week" in capsys.readouterr().err
