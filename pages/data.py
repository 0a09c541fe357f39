"""Data: where the numbers come from — row counts, sources, loads."""

from __future__ import annotations

import streamlit as st

import settings
from data.engine import current_revision, database_url
from pages.components import loaders

url = database_url()
st.title("Data")
st.caption("Where Accord's numbers come from: what is stored, from which source, and when it was loaded.")

counts = loaders.table_counts(url)
columns = st.columns(len(counts))
for column, (table, rows) in zip(columns, counts.items(), strict=True):
    column.metric(table.capitalize(), f"{rows:,}", help=f"Rows in the {table} table")

left, right = st.columns(2)
with left:
    st.subheader("Sources")
    sources = loaders.source_counts(url)
    if sources.empty:
        st.write("Nothing loaded yet.")
    else:
        table = sources.pivot_table(
            index="source", columns="table", values="rows", fill_value=0, aggfunc="sum"
        )
        st.dataframe(table, key="data_sources", width="stretch")
with right:
    st.subheader("Database")
    st.write(f"`{settings.masked_url(url)}`")
    st.caption(
        f"Schema revision {current_revision(loaders.engine())}. Set ACCORD_DATABASE_URL to use PostgreSQL."
    )

st.subheader("Loads")
runs = loaders.sync_runs(url)
if runs.empty:
    st.write("No sync or import has run yet.")
else:
    shown = runs[["started_at", "finished_at", "connector", "kind", "status", "counts", "error"]].copy()
    shown["counts"] = shown["counts"].map(lambda c: ", ".join(f"{k}: {v:,}" for k, v in (c or {}).items()))
    st.dataframe(shown, key="data_runs", hide_index=True, width="stretch")
