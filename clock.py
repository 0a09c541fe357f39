"""Accord's one clock: the instant the dashboard, the CLI and the demo call "now".

It is the real time unless ``ACCORD_NOW`` pins it (an ISO 8601 instant; a date
alone means its start, UTC). A pinned clock stands still: demos and tests see
the same data and the same "as of" however long they run. What Accord records
(agreement versions, runs, audit entries) is stamped by the same clock, so a
version saved "now" is in force "as of now".

The test suite moves this process's clock with time-machine and hands
``ACCORD_NOW`` to the servers and commands it starts; it sets :data:`READ_PIN`
to False so that, in its own process, time-machine alone says what now is.

With ``ACCORD_NOW=2026-11-18T10:00+01:00``, :func:`now` is 09:00 UTC that day
and :func:`today` is 2026-11-18.
"""

from __future__ import annotations

import datetime as dt

import settings

READ_PIN = True  # False: ignore ACCORD_NOW in this process (the test suite travels with time-machine)


def pinned() -> dt.datetime | None:
    """The instant ``ACCORD_NOW`` pins the clock to (UTC), or None when the clock runs."""
    raw = (settings.get("ACCORD_NOW") or "").strip() if READ_PIN else ""
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise settings.SettingError(
            f"ACCORD_NOW: {raw!r} is not an ISO 8601 instant (e.g. 2026-11-18T10:00Z)"
        ) from exc
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def now() -> dt.datetime:
    """Now, timezone-aware UTC: the pinned instant if ``ACCORD_NOW`` is set, else the real time."""
    return pinned() or dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in UTC by :func:`now` (the demo company's data end at 00:00 UTC of it)."""
    return now().date()
