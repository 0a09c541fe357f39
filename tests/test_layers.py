"""The import rules hold: ``lint-imports`` keeps every contract in pyproject.toml, and the contracts really
catch the imports they forbid (checked on a copy of the code with one bad import per contract).

import-linter sees packages only; the top-level modules (app.py, cli.py, console.py, bootstrap.py, errors.py,
settings.py) are checked here with the same rules, from their source.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import settings

ROOT = settings.ROOT
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LINTER = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PACKAGES = LINTER["root_packages"]
TOP_LEVEL = ["app", "cli", "console", "bootstrap", "errors", "settings", "clock"]
OURS = set(PACKAGES) | set(TOP_LEVEL)
CONTRACTS = LINTER["contracts"]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_the_code_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in result.stdout, result.stdout


# One import per contract that breaks it (file -> line appended). A new contract needs its line here.
VIOLATIONS = {
    "data/engine.py": "import connectors.demo  # data reaching up a layer",
    "analytics/periods.py": "import settings  # analytics reading a setting",
    "connectors/demo.py": "from agreements import store  # a connector storing an agreement",
    "reports/command.py": "import cli  # the old circle over the progress bar",
    "analytics/charts.py": "import streamlit  # Streamlit outside the pages",
    "analytics/calendar.py": "import analytics.agreement  # agreement imports calendar: a circle",
    "connectors/hubspot/sync.py": "import hubspot  # the SDK outside its client module",
    "connectors/salesforce/sync.py": "import simple_salesforce  # the SDK outside its client module",
}


def test_the_contracts_catch_a_bad_import_of_each_kind(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint_imports(tmp_path).returncode == 0  # the copy alone keeps them
    for path, line in VIOLATIONS.items():
        with (tmp_path / path).open("a") as handle:
            handle.write(f"\n{line}\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert len(VIOLATIONS) == len(CONTRACTS)
    assert f"0 kept, {len(CONTRACTS)} broken" in result.stdout, result.stdout
    for importer in ["data.engine -> connectors.demo", "analytics.periods -> settings", "connectors.demo -> agreements",
                     "reports.command -> cli", "analytics.charts -> streamlit", "connectors.hubspot.sync -> hubspot",
                     "connectors.salesforce.sync -> simple_salesforce"]:  # fmt: skip
        assert importer in result.stdout, importer


# ----------------------------------------------------------------------------- the top-level modules

# Module -> what of ours (and Streamlit) it must not import, however deep in a function.
TOP_LEVEL_FORBIDDEN = {
    "errors": OURS - {"errors"} | {"streamlit"},  # the shared leaf
    "console": OURS - {"console"} | {"streamlit"},
    "settings": OURS - {"settings", "errors"} | {"streamlit"},
    "clock": OURS - {"clock", "settings", "errors"} | {"streamlit"},  # read by every layer above analytics
    "bootstrap": {"pages", "cli", "app", "streamlit"},
    "cli": {"pages", "app", "streamlit"},
    "app": {"cli"},
}


def imported_roots(source: str) -> set[str]:
    """The top-level names ``source`` imports anywhere (module level or inside functions).

    >>> sorted(imported_roots("import a.b\\ndef f():\\n    from c import d\\nfrom . import e"))
    ['a', 'c']
    """
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", sorted(TOP_LEVEL_FORBIDDEN))
def test_a_top_level_module_keeps_its_import_rules(module):
    source = (ROOT / f"{module}.py").read_text()
    assert not imported_roots(source) & TOP_LEVEL_FORBIDDEN[module]


def test_the_top_level_check_sees_an_import_inside_a_function():
    bad = "def handler(args):\n    import streamlit as st\n    st.write(args)\n"
    assert imported_roots(bad) & TOP_LEVEL_FORBIDDEN["cli"] == {"streamlit"}
    assert "streamlit" in imported_roots((ROOT / "app.py").read_text())  # and finds the real ones
