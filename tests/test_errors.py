"""One error base: every error a user can fix is an ``AccordError``; the CLI and the pages turn it into one
message, each in one place; a bug is never dressed up as one (it propagates)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

import cli
import settings
from analytics.wording import literal
from errors import AccordError

PACKAGES = ["analytics", "connectors", "data", "reports", "agreements", "pages.components"]
TOP_LEVEL = ["settings", "bootstrap", "console", "cli", "errors"]

# Exceptions that are NOT for the user: raised when code calls a function wrongly (an unknown chart kind, a
# frame without a column, an unknown breakdown), so they mean a bug and must propagate as one. A new exception
# class must be added here with its reason, or derive from AccordError.
BUGS = {
    "analytics.schema.SchemaError": "a frame without the canonical shape: a connector or repository bug",
    "analytics.charts.ChartError": "a chart builder given the wrong frame or kind",
    "analytics.breakdown_charts.ChartError": "a chart builder given the wrong frame",
    "analytics.wording.WordingError": "an unknown metric kind put into words",
    "analytics.funnel.FunnelError": "an unknown breakdown asked of the funnel",
    "analytics.groups.BreakdownError": "an unknown breakdown or an empty window, asked by code",
    "analytics.commitments.UnknownMetricError": "a metric the registry does not know, tracked by code",
}


def _our_modules():
    names = list(TOP_LEVEL)
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, f"{package}.")
                  if ".migrations" not in m.name]  # fmt: skip
    return [importlib.import_module(name) for name in names]


def _exception_classes():
    found = {}
    for module in _our_modules():
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__
                    and not name.startswith("_")):  # fmt: skip
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_error_class_is_either_for_the_user_or_named_as_a_bug():
    classes = _exception_classes()
    undecided = [
        name for name, cls in classes.items() if not issubclass(cls, AccordError) and name not in BUGS
    ]
    assert not undecided, f"derive these from errors.AccordError, or list them in BUGS with why: {undecided}"
    assert not [
        name for name in BUGS if issubclass(classes[name], AccordError)
    ]  # a bug is never "fix your input"
    for_users = [name for name, cls in classes.items() if issubclass(cls, AccordError)]
    # the walk really saw the errors of every layer (it cannot pass by finding nothing)
    for expected in ["analytics.agreement.AgreementError", "connectors.files.reading.FileImportError",
                     "connectors.hubspot.client.HubSpotAuthError", "data.engine.DatabaseConfigError",
                     "data.syncs.RunBusyError", "settings.SettingError", "pages.components.auth.AuthConfigError",
                     "reports.meeting_pack.ChartRenderError"]:  # fmt: skip
        assert expected in for_users
    assert len(for_users) >= 20


def test_errors_keep_their_old_base_so_existing_handlers_still_catch_them():
    from analytics.agreement import AgreementError
    from data.syncs import RunBusyError

    assert issubclass(AgreementError, ValueError) and issubclass(RunBusyError, RuntimeError)


# ----------------------------------------------------------------------------- the command line


def test_cli_prints_an_accord_error_as_one_line_with_its_exit_code(monkeypatch, capsys):
    from connectors.files import FileImportError

    def fails(_args):
        raise FileImportError("'when' is not a date", file="leads.csv", line=4)

    monkeypatch.setattr(cli, "_db_status", fails)
    assert cli.main(["db", "status"]) == 2 == FileImportError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: leads.csv") and "line 4" in err


def test_cli_joins_a_message_of_several_lines_into_one(monkeypatch, capsys):
    from analytics.agreement import AgreementError, parse_agreement

    def fails(_args):
        parse_agreement("name: x\nperiod: fortnight\n")

    monkeypatch.setattr(cli, "_db_status", fails)
    assert cli.main(["db", "status"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "problems in the agreement: " in err and "period: " in err
    with pytest.raises(AgreementError):
        fails(None)


def test_cli_lets_a_bug_propagate_instead_of_calling_it_bad_input(monkeypatch, capsys):
    def bug(_args):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "_db_status", bug)
    with pytest.raises(KeyError):
        cli.main(["db", "status"])
    assert "error:" not in capsys.readouterr().err


def test_a_bug_in_a_real_cli_process_ends_in_a_traceback_and_a_non_zero_exit(tmp_path):
    script = ("import sys, cli\n"
              "def bug(args): raise ZeroDivisionError('a bug')\n"
              "cli._db_status = bug\n"
              "sys.exit(cli.main(['db', 'status']))\n")  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "ACCORD_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    bug = subprocess.run([sys.executable, "-c", script], cwd=settings.ROOT, env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert bug.returncode != 0
    assert "Traceback" in bug.stderr and "ZeroDivisionError: a bug" in bug.stderr
    assert "error:" not in bug.stderr.splitlines()[0]
    fixable = subprocess.run([sys.executable, "cli.py", "agreement", "validate", str(tmp_path / "none.yaml")],
                             cwd=settings.ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert fixable.returncode == 1 and "Traceback" not in fixable.stderr
    assert (
        fixable.stderr.count("\n") == 1
        and fixable.stderr.startswith("error: ")
        and "no such file" in fixable.stderr
    )


# ----------------------------------------------------------------------------- the pages


def _page(kind: str) -> None:
    from data.transactions import StorageError
    from pages.components import errors

    with errors.shown():
        if kind == "fixable":
            raise StorageError(
                "the database is read-only (check the file's permissions or the user's grants)"
            )
        raise ZeroDivisionError("a bug")
    import streamlit as st

    st.write("not reached")


def test_a_page_shows_an_accord_error_as_one_message_and_stops():
    at = AppTest.from_function(_page, args=("fixable",)).run()
    assert not at.exception
    assert [e.value for e in at.error] == [  # escaped: an error may quote a file's or a CRM's values
        literal("the database is read-only (check the file's permissions or the user's grants)")
    ]
    assert not at.markdown  # stopped: nothing after the error is drawn


def test_a_bug_on_a_page_is_an_exception_not_a_message_to_the_user():
    at = AppTest.from_function(_page, args=("bug",)).run()
    assert at.exception and "ZeroDivisionError" in at.exception[0].value + str(at.exception[0].stack_trace)
    assert not at.error


def test_the_app_shows_an_error_a_page_leaves_unhandled_as_one_message(monkeypatch, demo_db_url):
    from data.transactions import StorageError
    from pages.components import data_view

    def refused(_url):
        raise StorageError("the disk holding the database is full; free space and run it again")

    monkeypatch.setenv("ACCORD_DATABASE_URL", demo_db_url)
    at = AppTest.from_file(str(settings.ROOT / "app.py"), default_timeout=60).run()
    monkeypatch.setattr(data_view, "counts_row", refused)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        literal("the disk holding the database is full; free space and run it again")
    ]
