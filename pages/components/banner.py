"""The line at the top of every page: whose data this is and how fresh."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import clock
from pages.components import loaders


def ago(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """'just now', '5 minutes ago', '3 hours ago', '2 days ago'."""
    seconds = ((now or clock.now()) - moment).total_seconds()
    if seconds < 90:
        return "just now"
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def freshness_banner(url: str) -> None:
    names = loaders.source_names(url)
    connector, finished = loaders.freshness(url)
    if not names:
        st.info(
            "No data yet. Load the demo company, connect HubSpot or Salesforce, or import a file on the "
            "**Data** page."
        )
        return
    when = f"last load {ago(finished)} ({finished:%Y-%m-%d %H:%M} UTC)" if finished else "no load recorded"
    if names == ["demo"]:
        st.warning(
            f"**You are looking at demo data** — a generated company, not yours. {when[0].upper()}{when[1:]}. "
            "Connect HubSpot or Salesforce, or import your CRM export, on the **Data** page.",
            icon=":material/science:",
        )
    elif "demo" in names:  # demo rows beside real ones: the figures mix both until the demo is removed
        theirs = ", ".join(n for n in names if n != "demo")
        st.warning(
            f"**Demo rows remain beside your data** from {theirs}: every figure counts both. An admin can "
            "remove the demo company on the **Data** page (or `cli.py demo --remove`).",
            icon=":material/science:",
        )
    else:
        stale = finished is not None and clock.now() - finished > dt.timedelta(hours=24)
        message = f"Data from {', '.join(names)} — {when}."
        (st.warning if stale else st.caption)(message + (" Consider syncing again." if stale else ""))
