"""What an empty database gets on first start: the demo company, recorded as a load."""

from __future__ import annotations

import settings
from data import repository as repo


def load_demo_if_empty(engine, leads: int | None = None, progress=None) -> bool:
    """Load the demo company when no canonical table has a row; True if it loaded it.

    The load is recorded in ``sync_runs`` (connector "demo") so the pages can say
    when the data was loaded; a failure is recorded too, then re-raised.
    """
    if any(repo.table_counts(engine).values()):
        return False
    from connectors.demo import load_demo

    leads = leads or int(settings.get("ACCORD_DEMO_LEADS"))
    run = repo.start_run(engine, "demo", "demo")
    try:
        counts = load_demo(engine, leads=leads, progress=progress)
    except Exception as exc:
        repo.finish_run(engine, run, "failed", error=f"demo load failed: {exc}")
        raise
    repo.finish_run(engine, run, "ok", counts)
    return True
