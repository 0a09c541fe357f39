"""Marketing: are MQLs, SQLs and sourced pipeline on pace; which channels are short; why sales rejects leads.

The page draws views.marketing.MarketingView and nothing else.
"""

from __future__ import annotations

import streamlit as st

from analytics import wording
from pages.components import exports, loaders, page, records
from views.cells import rate_cells
from views.marketing import BREAKDOWNS, HEADLINE

head = page.header("Marketing", "marketing's commitments")
f, doc = head.f, head.doc
view = loaders.marketing_view(**f.view_key(), history_start=f.history_start.isoformat())

# --- against target ---------------------------------------------------------------------------------------
st.subheader(f"Against target — {view.period_name}")
if view.closed_note:
    st.caption(view.closed_note)
for column, shown in zip(st.columns(len(HEADLINE)), view.headlines, strict=True):
    with column, st.container(border=True):
        if shown.row is None:
            st.info(shown.missing)
            continue
        st.metric(shown.label, shown.value, delta=shown.delta, help=shown.help)
        st.badge(shown.status_label, color=shown.badge)
        st.write(shown.sentence)
# The pacing charts in a row of their own, so they line up whatever the length of the sentences above.
for column, shown in zip(st.columns(len(HEADLINE)), view.headlines, strict=True):
    if shown.pacing is not None:
        with column:
            page.show_chart(shown.pacing, key=f"marketing_pacing_{shown.metric}")

records.records_behind(view.figures(), f, key="marketing")  # the leads or deals behind a figure


# --- by channel and campaign -----------------------------------------------------------------------------
@st.fragment
def breakdown_section(view, period: str, currency: str | None) -> None:
    """MQLs, SQLs and pipeline by channel or campaign: switching the breakdown reruns this section only."""
    st.subheader(f"By channel and campaign — {view.period_name}")
    by = st.segmented_control(
        "Break down by", list(BREAKDOWNS), format_func=BREAKDOWNS.get, default="channel", required=True,
        key="marketing_by",
    )  # fmt: skip
    volume = view.breakdowns[by]
    if volume.table.empty:
        st.info(view.no_volume)
    else:
        left, right = st.columns([3, 2])
        with left:
            page.show_chart(volume.chart, key=f"marketing_volume_{by}")
        with right:
            st.caption(
                "SQLs: leads handed over in the period and qualified by now. Pipeline: deals opened in the period "
                "from marketing's leads."
            )
            if volume.compared:
                st.caption(volume.compared)
            st.caption(view.handovers_sentence)
            exports.download_csv(
                volume.table, f"marketing-by-{by}-{period}.csv", key=f"marketing_volume_csv_{by}"
            )
        # Full width, so every column shows at 1440 px; the changes' meaning is in each header's help.
        change = "Against the previous period"
        st.dataframe(
            volume.cells, key=f"marketing_volume_table_{by}", hide_index=True, width="stretch",
            column_config={
                by: BREAKDOWNS[by], "mqls": "MQLs", "mqls_change": st.column_config.TextColumn("± MQLs", help=change),
                "sqls": "SQLs", "mql_to_sql": "MQL → SQL",
                "mql_to_sql_change": st.column_config.TextColumn("± MQL → SQL", help=f"{change}, in points"),
                "sourced_deals": "Sourced deals",
                "sourced_pipeline": st.column_config.NumberColumn(f"Pipeline ({currency or 'amount'})",
                                                                  format="localized"),
                "share_of_mqls": "Share of MQLs",
                "usual_share": st.column_config.TextColumn("Usual share", help=volume.compared),
                "share_change": st.column_config.TextColumn("± usual", help="Share of MQLs minus usual share, in points"),
            },
        )  # fmt: skip


breakdown_section(view, f.period, doc.currency)

# --- acceptance and rejection reasons ---------------------------------------------------------------------
st.subheader(f"Acceptance and rejection reasons by channel — {view.period_name}")
if view.acceptance_row is not None:
    st.badge(view.acceptance_status_label, color=view.acceptance_badge)
    st.write(view.acceptance_sentence)
if view.acceptance.empty:
    st.info(view.no_acceptance)
else:
    left, right = st.columns(2)
    with left:
        page.show_chart(view.acceptance_chart, key="marketing_acceptance")
        st.dataframe(
            rate_cells(view.acceptance, {"acceptance_rate": "— (none decided)"}), key="marketing_acceptance_table",
            hide_index=True,
            column_order=["channel", "leads", "accepted", "rejected", "open", "acceptance_rate"],
            column_config={
                "channel": "Channel", "leads": "Leads", "accepted": "Accepted", "rejected": "Rejected",
                "open": "Open", "acceptance_rate": "Acceptance",
            },
        )  # fmt: skip
        exports.download_csv(
            view.acceptance, f"acceptance-by-channel-{f.period}.csv", key="marketing_acceptance_csv"
        )
    with right:
        if view.reasons_table is None:
            st.info(view.no_reasons)
        else:
            page.show_chart(view.reasons_chart, key="marketing_reasons")
            st.dataframe(view.reasons_table, key="marketing_reasons_table", hide_index=True,
                         column_config={"channel": "Channel", "rejected": "Rejected"})  # fmt: skip
            exports.download_csv(
                view.reasons_table, f"rejection-reasons-{f.period}.csv", key="marketing_reasons_csv"
            )

# --- MQL -> SQL trend -------------------------------------------------------------------------------------
if view.trend_empty:
    st.info(view.no_trend)
    st.stop()
st.subheader(view.trend_title)
if view.trend_table is None:
    st.info(view.no_trend)
else:
    page.show_chart(view.trend_chart, key="marketing_conversion_trend")
    st.caption(view.trend_caption)
    beside = "target" if "target" in view.trend_table else None  # a rate beside its target keeps its decimals
    trend_cells = rate_cells(view.trend_table, {"mql_to_sql": "— (no MQLs)"}, beside)
    if beside:
        trend_cells["target"] = [
            wording.format_value(t, "rate", exact=True) for t in view.trend_table["target"]
        ]
    st.dataframe(
        trend_cells, key="marketing_trend_table", hide_index=True,
        column_config={"period": "Period", "mqls": "MQLs", "sqls": "SQLs", "mql_to_sql": "MQL → SQL",
                       "target": "Target", "status": "Status"},
    )  # fmt: skip
    exports.download_csv(view.trend_table, f"mql-to-sql-{f.period}.csv", key="marketing_trend_csv")
