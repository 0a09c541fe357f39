"""``python cli.py agreement ...``: validate, import, export, history and diff of agreements.

Every subcommand exits 0 on success and 1 on bad input, with one line on stderr
that names the field (and the line of the file) and the fix; nothing is saved
then. ``import`` saves a new version through :func:`agreements.store.save`
(validated, never back-dated, audited).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from collections.abc import Callable

import settings
from analytics.agreement import AgreementError, AgreementVersion
from analytics.revisions import diff, line_of, problems, unified_yaml_diff


def add_agreement_command(subparsers) -> argparse.ArgumentParser:
    """Add ``agreement`` and its subcommands to the CLI; returns the ``agreement`` parser."""
    parser = subparsers.add_parser(
        "agreement",
        help="validate, import, export and compare agreement versions",
        description="The agreement between the departments, versioned: every import is a new version with a "
        "reason and an effective date; earlier versions are never changed.",
    )
    commands = parser.add_subparsers(dest="agreement_command", required=True, metavar="ACTION")

    validate = commands.add_parser("validate", help="check an agreement YAML file without saving it")
    validate.add_argument("file", metavar="FILE", help="the agreement as YAML")
    validate.set_defaults(func=handle_validate)

    imported = commands.add_parser(
        "import",
        help="save an agreement YAML file as a new version",
        description="Save FILE as the next version of the agreement it names (a new agreement if the name is "
        "new). It takes effect at --effective. Default: a new agreement's first version from the start of the "
        "period of the first data stored, so every past period has a target; a later version from the start of "
        "the next period. A later version may not take effect before the latest version's effective date nor "
        "before the current period.",
    )
    imported.add_argument("file", metavar="FILE", help="the agreement as YAML")
    imported.add_argument("--reason", default="", help="why the agreement changes (required)")
    imported.add_argument(
        "--effective",
        metavar="YYYY-MM-DD",
        default=None,
        help="the local date the version takes effect (default: see above)",
    )
    imported.add_argument("--author", default=None, help="who makes the change (default: your user name)")
    imported.set_defaults(func=handle_import)

    export = commands.add_parser("export", help="print a version as YAML (default: the latest)")
    export.add_argument("--name", default=None, help="the agreement (needed when several are stored)")
    export.add_argument("--version", type=int, default=None, help="the version number (default: the latest)")
    export.set_defaults(func=handle_export)

    history = commands.add_parser("history", help="list the versions with author, reason and changes")
    history.add_argument("--name", default=None, help="the agreement (needed when several are stored)")
    history.set_defaults(func=handle_history)

    compare = commands.add_parser("diff", help="what changed between two versions")
    compare.add_argument("a", type=int, metavar="A", help="the older version number")
    compare.add_argument("b", type=int, metavar="B", help="the newer version number")
    compare.add_argument("--name", default=None, help="the agreement (needed when several are stored)")
    compare.set_defaults(func=handle_diff)
    return parser


def _with_file_lines(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Give an AgreementError the file's line numbers, on one line; ``cli.main`` prints it (exit 1)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except AgreementError as exc:
            where = _one_line(exc, getattr(args, "_text", None), getattr(args, "file", None))
            raise AgreementError(where) from exc

    run.__doc__ = handler.__doc__
    return run


def _one_line(error: AgreementError, text: str | None, file: str | None) -> str:
    """The problems of ``error`` on one line, each with its line in the file when known."""
    parts = []
    for path, message in problems(error):
        line = line_of(text, path) if text else None
        where = f"line {line}: " if line else ""
        parts.append(f"{where}{path}: {message}" if path else message)
    joined = "; ".join(parts)
    return f"{file}: {joined}" if file else joined


def _engine():
    from data.engine import make_engine, upgrade

    engine = make_engine(settings.database_url())
    upgrade(engine)
    return engine


def _read(args: argparse.Namespace):
    from agreements import store

    try:
        with open(args.file, encoding="utf-8") as handle:
            args._text = handle.read()
    except FileNotFoundError:
        raise AgreementError("no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AgreementError(f"cannot read the file ({exc})") from None
    return store.parse(args._text)


@_with_file_lines
def handle_validate(args: argparse.Namespace) -> int:
    """Check FILE; print a summary of what it holds."""
    document = _read(args)
    parties = ", ".join(
        f"{party}: {sum(c.owner == party for c in document.commitments)}" for party in document.parties
    )
    print(f"OK: {document.name!r} is valid: {len(document.commitments)} commitments ({parties}), "
          f"judged per {document.period} in {document.timezone}.")  # fmt: skip
    return 0


@_with_file_lines
def handle_import(args: argparse.Namespace) -> int:
    """Save FILE as a new version."""
    from agreements import store

    document = _read(args)
    if not args.reason.strip():
        raise AgreementError(
            "--reason is required: say why the agreement changes (it is kept with the version)"
        )
    effective = None
    if args.effective is not None:
        try:
            effective = dt.date.fromisoformat(args.effective)
        except ValueError:
            raise AgreementError(f"--effective {args.effective!r} is not a date; use YYYY-MM-DD") from None
    author = args.author or _user_name()
    saved = store.save(_engine(), document, effective, author, args.reason)
    local = saved.effective_from.astimezone(_zone(saved))
    print(f"Saved {saved.agreement!r} version {saved.version}, in force from {local:%Y-%m-%d %H:%M} "
          f"({saved.document.timezone}), by {saved.author}.")  # fmt: skip
    return 0


@_with_file_lines
def handle_export(args: argparse.Namespace) -> int:
    """Print a version as YAML, with a comment header saying which."""
    from agreements import store

    engine = _engine()
    chosen = store.version(engine, _name(engine, args.name), args.version)
    local = chosen.effective_from.astimezone(_zone(chosen))
    print(f"# {chosen.agreement}, version {chosen.version}, in force from {local:%Y-%m-%d %H:%M} "
          f"({chosen.document.timezone})")  # fmt: skip
    print(f"# saved {chosen.created_at:%Y-%m-%d %H:%M} UTC by {chosen.author or 'unknown'}: {chosen.reason}")
    sys.stdout.write(chosen.document.to_yaml())
    return 0


@_with_file_lines
def handle_history(args: argparse.Namespace) -> int:
    """List every version, oldest first, with what changed from the one before."""
    from agreements import store

    engine = _engine()
    name = _name(engine, args.name)
    found = store.versions(engine, name)
    print(f"{name}: {len(found)} version{'s' if len(found) != 1 else ''}")
    previous: AgreementVersion | None = None
    for v in found:
        local = v.effective_from.astimezone(_zone(v))
        print(f"v{v.version}  in force from {local:%Y-%m-%d %H:%M}  saved {v.created_at:%Y-%m-%d %H:%M} UTC  "
              f"by {v.author or 'unknown'}: {v.reason or '(no reason)'}")  # fmt: skip
        if previous is not None:
            changes = diff(previous.document, v.document)
            for change in changes or ():
                print(f"    {change.text}")
            if not changes:
                print("    (no change to the document)")
        previous = v
    return 0


@_with_file_lines
def handle_diff(args: argparse.Namespace) -> int:
    """Print the field-level changes from version A to B, then the unified YAML diff."""
    from agreements import store

    engine = _engine()
    name = _name(engine, args.name)
    old, new = store.version(engine, name, args.a), store.version(engine, name, args.b)
    changes = diff(old.document, new.document)
    print(
        f"{name}: version {old.version} -> {new.version}: {len(changes)} change{'s' if len(changes) != 1 else ''}"
    )
    for change in changes:
        print(f"  {change.text}")
    text = unified_yaml_diff(old.document, new.document, f"version {old.version}", f"version {new.version}")
    if text:
        print()
        sys.stdout.write(text)
    return 0


def _name(engine, name: str | None) -> str:
    from agreements import store

    if name is not None:
        return name
    known = store.names(engine)
    if not known:
        raise AgreementError("no agreement is stored yet: import one with `cli.py agreement import FILE`")
    if len(known) > 1:
        raise AgreementError(f"{len(known)} agreements are stored ({', '.join(known)}): pick one with --name")
    return known[0]


def _zone(version: AgreementVersion):
    from zoneinfo import ZoneInfo

    return ZoneInfo(version.document.timezone)


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment (some containers)
        return "local user"
