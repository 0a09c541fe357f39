"""What an empty database gets on first start: the default agreement and the demo company.

Top level, not in ``connectors/``, because it stores an agreement (``agreements``)
as well as loading connector data: the app (``pages/components/loaders.py``),
``cli.py demo`` and the tests call it; connectors never import it.
"""

from __future__ import annotations

import datetime as dt
import time

import settings
from data import fact_upkeep, journal, locks, queries, syncs, transactions, upserts

DEFAULT_AGREEMENT = settings.ROOT / "agreements" / "sales-marketing.yaml"
# The default agreement judges all history: it is in force from the start of time.
DEFAULT_EFFECTIVE_FROM = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DEFAULT_AGREEMENT_LOCK = "accord.default-agreement"


def ensure_default_agreement(engine) -> bool:
    """Save the shipped default agreement as version 1 when no agreement exists; True if it did.

    Under a lock (:mod:`data.locks`): of servers starting together, one saves it and the others find it.
    """
    from agreements import store  # the one path by which an agreement is saved (validated, audited)

    with locks.held(engine, DEFAULT_AGREEMENT_LOCK):
        if not journal.read_agreement_versions(engine).empty:
            return False
        store.save(
            engine,
            DEFAULT_AGREEMENT.read_text(),
            DEFAULT_EFFECTIVE_FROM,
            author="Accord",
            reason="The default agreement shipped with Accord; edit it on the Agreement page.",
        )
    return True


DEMO_REMOVED = "demo.remove"


def remove_demo(engine, actor: str) -> dict[str, int]:
    """Delete every demo row (owners, leads, deals, activities) in one transaction with an audit entry
    (``demo.remove``: rows deleted per table); returns the rows deleted per table. After it, the first start
    no longer loads the demo into an empty database (the audit entry says it was removed on purpose)."""
    with transactions.transaction(engine) as conn:
        deleted = upserts.delete_source(conn, "demo")
        journal.add_audit(conn, actor, DEMO_REMOVED, "demo", {"deleted": deleted})
    return deleted


def demo_removed(engine) -> bool:
    """Whether someone removed the demo company from this database (then it is not loaded again)."""
    return not journal.read_audit(engine, limit=1, action=DEMO_REMOVED).empty


def load_demo_if_empty(engine, leads: int | None = None, progress=None) -> bool:
    """Load the demo company when no canonical table has a row (and nobody removed it); True if it did.

    SLA facts are not built here: they are kept only where ``cli.py db facts`` asked for them
    (:mod:`data.fact_upkeep`), since no page needs them by default yet and building them at a million
    leads takes minutes.

    The default agreement is saved first if there is none. The load is recorded
    in ``sync_runs`` (connector "demo") so the pages can say when the data was
    loaded; a failure is recorded too, then re-raised. Under the first-start lock (:mod:`data.locks`):
    of servers starting together on an empty database, one loads the demo while the others wait, then
    find it loaded.
    """
    with locks.held(engine, locks.FIRST_START):
        ensure_default_agreement(engine)
        if any(queries.has_rows(engine).values()) or demo_removed(engine):
            return False
        leads = leads or int(settings.get("ACCORD_DEMO_LEADS"))
        try:
            load_demo_recorded(engine, leads=leads, progress=progress)
        except syncs.RunBusyError:  # `cli.py demo` (not under this lock) is loading it right now
            wait_for_run(engine, "demo")
            return False
    return True


def load_demo_recorded(engine, **options) -> dict[str, int]:
    """:func:`connectors.demo.load_demo` (``options`` passed on) as a run of connector "demo" in
    ``sync_runs``, ended "ok" or "failed" (then re-raised); returns its counts.

    Raises :class:`~data.syncs.RunBusyError`, loading nothing, while another demo load is going.
    """
    from connectors.demo import load_demo

    ensure_default_agreement(engine)  # the demo is judged against the default agreement, however loaded
    run = syncs.start_run(engine, "demo", "demo")
    try:
        # No fact upkeep batch by batch: one refresh at the end, where the database keeps facts.
        with syncs.keep_alive(engine, run), fact_upkeep.deferred(engine):
            counts = load_demo(engine, **options)
    except BaseException as exc:
        syncs.finish_run(engine, run, "failed", error=f"demo load failed: {exc!r}"[:2000])
        raise
    syncs.finish_run(engine, run, "ok", counts)
    return counts


def wait_for_run(engine, connector: str, poll: float = 0.5) -> None:
    """Wait while a run of ``connector`` is alive (at most until it would be taken to have died)."""
    deadline = time.monotonic() + syncs.STALE_AFTER.total_seconds()
    while (run := syncs.running_run(engine, connector)) is not None and syncs.run_alive(run):
        if time.monotonic() > deadline:
            return
        time.sleep(poll)
