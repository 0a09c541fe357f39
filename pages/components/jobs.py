"""Long operations (a HubSpot sync, a file import) run in a background thread while the page shows progress.

A job outlives the script run that started it: when the user clicks
elsewhere during a sync, Streamlit stops the script, but the sync carries on,
records its run and clears the caches; the Data page shows it again when opened.
Only one job of a kind runs per database at a time in this process
(:func:`start` refuses a second one), so two clicks never start two syncs
writing the same rows; across processes and machines (cron, a second server)
``data.syncs.start_run`` refuses a second run of the same connector.

Progress callbacks come from any thread (the HubSpot fetchers call theirs
too), so :meth:`Job.progress` only stores numbers under a lock; a fragment of
the page redraws them every half second (:func:`progress_box`) while the rest
of the page stays usable. Streamlit calls from another thread would raise
``NoSessionContext``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from errors import AccordError


@dataclass(frozen=True)
class Progress:
    """Where a job stands, as its last ``progress(stage, done, total, detail)`` call said."""

    stage: str = "starting"
    done: int = 0
    total: int | None = None
    detail: str = ""

    def fraction(self) -> float | None:
        """Share done in [0, 1], or None when the total is unknown.

        >>> Progress("importing", 50, 200).fraction(), Progress("owners", 40, None).fraction()
        (0.25, None)
        """
        if not self.total:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)

    def text(self) -> str:
        """One line for a progress bar.

        >>> Progress("importing", 1200, 5000, "leads.csv").text()
        'importing: 1,200 of 5,000 — leads.csv'
        >>> Progress("owners", 40, None).text()
        'owners: 40'
        """
        counted = f"{self.done:,}" + (f" of {self.total:,}" if self.total else "")
        return f"{self.stage}: {counted}" + (f" — {self.detail}" if self.detail else "")


class JobBusyError(AccordError, RuntimeError):
    """A job of the same kind is already running on this database; the message says which and since when."""


class Job:
    """One background operation: ``work(job)`` runs in a thread and reports through :meth:`progress`."""

    def __init__(self, key: str, label: str, work: Callable[[Job], Any], started_by: str = ""):
        self.key, self.label, self.started_by = key, label, started_by
        self.started_at = dt.datetime.now(dt.UTC)
        self.result: Any = None
        self.error: BaseException | None = None
        self._work = work
        self._lock = threading.Lock()
        self._progress = Progress()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"accord-job: {label}", daemon=True)

    def _run(self) -> None:
        try:
            self.result = self._work(self)
        except BaseException as exc:  # kept for the page: it shows domain errors and re-raises the rest
            self.error = exc
        finally:
            self._done.set()

    def progress(self, stage: str, done: int, total: int | None, detail: str = "") -> None:
        """The ``progress`` callback to hand to a sync or an import (any thread may call it)."""
        with self._lock:
            self._progress = Progress(stage, int(done), None if total is None else int(total), detail)

    def snapshot(self) -> Progress:
        with self._lock:
            return self._progress

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds; True once the job has ended."""
        return self._done.wait(timeout)


POLL_SECONDS = 0.5  # how often a progress box is redrawn
QUICK_SECONDS = 2.0  # a job done within this is shown without a progress box
_JOBS: dict[str, Job] = {}
_REGISTRY = threading.Lock()


def start(key: str, label: str, work: Callable[[Job], Any], started_by: str = "") -> Job:
    """Start ``work`` in the background as job ``key``; raises :class:`JobBusyError` if ``key`` runs already."""
    with _REGISTRY:
        running = _JOBS.get(key)
        if running is not None and running.running:
            who = f" by {running.started_by}" if running.started_by else ""
            raise JobBusyError(
                f"{running.label} is already running (started{who} at {running.started_at:%H:%M:%S} UTC); "
                "wait until it has finished"
            )
        job = Job(key, label, work, started_by)
        _JOBS[key] = job
        job._thread.start()
    return job


def current(key: str) -> Job | None:
    """The last job started under ``key`` (running or ended), or None."""
    with _REGISTRY:
        return _JOBS.get(key)


def progress_box(key: str) -> None:
    """While job ``key`` runs: a status box with its progress bar, redrawn every :data:`POLL_SECONDS`
    without blocking the rest of the page; once the job has ended, the whole page reruns (to show the
    outcome and the new counts)."""
    _progress_fragment(key)


@st.fragment(run_every=POLL_SECONDS)
def _progress_fragment(key: str) -> None:
    job = current(key)
    if job is None or not job.running:
        st.rerun()  # the page draws no box for an ended job, so this runs once
    now = job.snapshot()
    with st.status(f"{job.label}…", expanded=True):
        st.progress(now.fraction() or 0.0, text=now.text()[:200])


def follow(job: Job) -> None:
    """After starting ``job`` in this script run: wait up to :data:`QUICK_SECONDS`, then rerun the page, which
    shows the outcome of a quick job, or a :func:`progress_box` (and disabled buttons) for a longer one."""
    job.wait(QUICK_SECONDS)
    st.rerun()
