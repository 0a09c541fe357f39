"""Records behind a figure: one selector per page that opens the leads (or deals) a count or rate counts.

Drawn inside a page, so only the roles that may see the page see the names and companies; the rows come
from views.records (the same evaluation as the figure), names and CRM ids read by id when opened.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import streamlit as st

from data.record_links import read_link_bases
from data.record_people import read_people
from pages.components import exports, loaders
from views.funnel import data_window as funnel_window
from views.overview import data_window
from views.records import drill_choices, records_view, stage_records, week_records, with_people

HOURS = {"format": "%.1f"}
# A table shows at most this many rows: more than a person reads; the CSV beside it has every row.
ROW_LIMIT = 1_000
TIME = {"format": "YYYY-MM-DD HH:mm"}
LEAD_CONFIG = {
    "name": "Name", "company": "Company", "owner": "Owner", "team": "Team", "channel": "Channel",
    "handed_over": st.column_config.DatetimeColumn("Handed over", **TIME),
    "due": st.column_config.DatetimeColumn("Due", **TIME),
    "first_touch": st.column_config.DatetimeColumn("First touch", **TIME),
    "status": "Status", "hours": st.column_config.NumberColumn("Business hours taken", **HOURS),
    "link": st.column_config.LinkColumn("In the CRM", display_text="Open"), "record": "CRM id",
}  # fmt: skip
STAGE_CONFIG = {
    **{k: LEAD_CONFIG[k] for k in ("name", "company", "owner", "team", "channel", "handed_over", "link", "record")},
    "sql": st.column_config.DatetimeColumn("SQL", **TIME),
    "opportunity": st.column_config.DatetimeColumn("First deal", **TIME),
    "won": st.column_config.DatetimeColumn("Won", **TIME),
}  # fmt: skip
DEAL_CONFIG = {
    "name": "Deal", "owner": "Owner", "team": "Team", "channel": "Channel",
    "created": st.column_config.DatetimeColumn("Created", **TIME),
    "closed": st.column_config.DatetimeColumn("Closed", **TIME),
    "amount": st.column_config.NumberColumn("Amount", format="%.0f"), "status": "Status",
    "link": st.column_config.LinkColumn("In the CRM", display_text="Open"), "record": "CRM id",
}  # fmt: skip


@st.cache_data(ttl=300, show_spinner=False)
def _people(url: str, table: str, ids: tuple[int, ...]) -> pd.DataFrame:
    return read_people(loaders._reads(url), table, np.asarray(ids, dtype="int64"))


@st.cache_data(ttl=300, show_spinner=False)
def _bases(url: str) -> Mapping:
    return read_link_bases(loaders._reads(url))


def capped(table: pd.DataFrame, noun: str) -> pd.DataFrame:
    """The first :data:`ROW_LIMIT` rows of ``table`` to draw; when it has more, say so under the table."""
    if len(table) <= ROW_LIMIT:
        return table
    st.caption(f"Showing the first {ROW_LIMIT:,} of {len(table):,} {noun}: the CSV below has every one.")
    return table.head(ROW_LIMIT)


@st.fragment
def records_behind(
    figures: pd.DataFrame, f, key: str, *, week: str | None = None, frozen: bool = False
) -> None:
    """Draw "Records behind a figure" for a page's figures (its view's ``figures()``) and filters ``f``.

    ``f`` is the page's pages.components.filters selection; ``key`` names the page's widgets. ``week``: the
    Overview's chosen ISO week, whose figures are offered too; ``frozen``: that week shows frozen figures.
    A fragment: choosing a figure reruns this section only, not the page and its charts.
    """
    versions = loaders.agreement_versions(f.url, f.agreement)
    view_f = f.view()
    choices = drill_choices(figures, versions, view_f, week)
    st.subheader("Records behind a figure")
    if not choices:
        st.caption("No figure of this period can be opened to its records yet.")
        return
    labels = {c.key: c.label for c in choices}
    chosen = st.selectbox(
        "Open the records behind", list(labels), format_func=labels.get, index=None,
        placeholder="Choose a figure to list the leads or deals it counts", key=f"{key}_records_figure",
    )  # fmt: skip
    if chosen is None:
        return
    people = lambda table, ids: _people(f.url, table, tuple(int(i) for i in ids))  # noqa: E731
    if chosen.startswith("funnel-"):  # a stage count: the cohort drawn from the Funnel's own frames
        lo, hi = funnel_window(view_f, f.history_start)  # the Funnel's own frames
        frames = loaders.frames(f.url, lo.isoformat(), hi.isoformat())
        records = stage_records(
            versions, frames, view_f, chosen.removeprefix("funnel-"), people, _bases(f.url)
        )
    elif chosen.startswith("week:"):
        lo, hi = data_window(versions, view_f, week)  # the frames the Overview's week was judged on
        frames = loaders.frames(f.url, lo.isoformat(), hi.isoformat())
        records = week_records(
            versions, frames, view_f, week, chosen.removeprefix("week:"), people, _bases(f.url)
        )
    else:
        frames = loaders.frames(f.url, f.period_start.isoformat(), f.period_end.isoformat())
        records = records_view(versions, frames, view_f, chosen, people, _bases(f.url))
    st.caption(records.sentence)
    if frozen and chosen.startswith("week:"):
        st.caption(
            f"{week}'s figures are frozen as shown in its meeting; these records are the rows as known now, so a "
            "count can differ from the frozen figure where the data was corrected since."
        )
    config = {"lead": LEAD_CONFIG, "stage": STAGE_CONFIG}.get(records.kind, DEAL_CONFIG)
    linked = records.table["link"].notna().any()
    shown = [c for c in records.table.columns if linked or c != "link"]
    st.dataframe(
        capped(records.table, "records"),
        key=f"{key}_records_table",
        hide_index=True,
        width="stretch",
        column_config=config,
        column_order=shown,
    )
    if not linked:
        st.caption("These records have no CRM link: imported and demo records have no record in a CRM.")
    exports.download_csv(records.table, records.file_name, key=f"{key}_records_csv")


def queue_with_people(table: pd.DataFrame, url: str) -> pd.DataFrame:
    """The overdue queue with each lead's name, company and CRM link (views.records.with_people)."""
    return with_people(table, lambda t, ids: _people(url, t, tuple(int(i) for i in ids)), _bases(url))
