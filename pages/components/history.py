"""A filter change is a browser history entry, so Back restores the view before it.

Streamlit 1.67 mirrors a bound widget's value into the URL with ``history.replaceState`` (no entry), but it
does handle Back and Forward: on ``popstate`` it reruns the page as a history navigation, and bound widgets
then take their values from the restored URL (``SessionState._handle_query_param_binding``). What is missing
is the entry itself. :func:`record` adds it: a script in the page remembers the URL each run ended on, and
when a run (not a Back or Forward) finds the same page under a new query string, it puts the old URL back as
the current entry and pushes the new one after it.
"""

from __future__ import annotations

import json

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

_RUNS_KEY = "_accord_history_runs"

# {nav}: this run is a Back/Forward (the browser already moved); {run}: changes the body so the script runs.
_SCRIPT = """<script>(function () {{
  const here = window.location.pathname + window.location.search;
  const last = window.__accordLastView;
  window.__accordLastView = here;
  if ({nav} || !last || last === here) return;  // run {run}
  if (last.split("?")[0] !== window.location.pathname) return;  // another page: Streamlit pushed that entry
  window.history.replaceState(window.history.state, "", last);
  window.history.pushState(window.history.state, "", here);
}})();</script>"""


def is_history_navigation() -> bool:
    """True when this run restores a view the browser went Back or Forward to."""
    return bool(getattr(get_script_run_ctx(), "is_history_navigation", False))


def record() -> None:
    """Draw the (invisible) script that makes this run's filter change a history entry; call once per run."""
    run = st.session_state.get(_RUNS_KEY, 0) + 1
    st.session_state[_RUNS_KEY] = run
    st.html(
        _SCRIPT.format(nav=json.dumps(is_history_navigation()), run=run),
        unsafe_allow_javascript=True,
        width="content",
    )
