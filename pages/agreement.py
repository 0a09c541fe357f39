"""Agreement: the SLA in force in plain words, how to change it, its history, review, baselines and consequences."""

from __future__ import annotations

import streamlit as st

from pages.components import agreement_view as view
from pages.components import filters, loaders

st.title("Agreement")
f = filters.current()
if f is None:
    st.info("No agreement is stored yet. Import one with `python cli.py agreement import FILE --reason ...`.")
    st.stop()
st.caption(
    f"{f.agreement}: what each side promised, since when and why. The targets are for the whole company, "
    "so this page ignores the team, owner and channel filters."
)
versions = loaders.agreement_versions(f.url, f.agreement)
view.flash()
tabs = st.tabs(view.TABS, key=view.TAB_KEY, bind="query-params", on_change="rerun")
for name, tab in zip(view.TABS, tabs, strict=True):
    if tab.open:
        with tab:
            view.RENDER[name](f, versions)
