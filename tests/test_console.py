"""The CLI's progress bar (``console.ProgressBar``): a bar with a total, a counter without, one line per stage."""

from __future__ import annotations

import io

import console
from console import ProgressBar


def test_a_stage_with_a_total_draws_a_bar_and_ends_its_line_on_close():
    out = io.StringIO()
    bar = ProgressBar(stream=out, width=10)
    bar("reading", 5, 10, detail="leads.csv")
    bar("reading", 10, 10)  # finished: drawn even inside the 0.1 s throttle
    bar.close()
    text = out.getvalue()
    assert "reading        [#####.....] 5/10 leads.csv" in text
    assert "[##########] 10/10" in text
    assert text.endswith("\n") and text.count("\n") == 1


def test_without_a_total_it_counts_and_a_new_stage_starts_a_new_line():
    out = io.StringIO()
    bar = ProgressBar(stream=out)
    bar("fetching", 1_200)
    bar("writing", 3, 4)
    bar.close()
    lines = out.getvalue().split("\n")
    assert lines[0].strip() == "fetching       1,200"
    assert "writing" in lines[1] and "3/4" in lines[1]


def test_redraws_of_one_stage_are_throttled_to_ten_a_second(monkeypatch):
    clock = iter([100.0, 100.05, 100.2])  # the bar's monotonic readings, one per call
    monkeypatch.setattr(console.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = ProgressBar(stream=out)
    bar("fetching", 1, 100)
    bar("fetching", 2, 100)  # 50 ms later: skipped
    bar("fetching", 3, 100)
    text = out.getvalue()
    assert "1/100" in text and "2/100" not in text and "3/100" in text


def test_cli_and_the_command_modules_no_longer_import_each_other():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for module in ["connectors/files/command.py", "connectors/hubspot/command.py", "reports/command.py"]:
        tree = ast.parse((root / module).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "cli" not in imported, module
