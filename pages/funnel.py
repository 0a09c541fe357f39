"""Funnel: of the leads handed over each period, how many reached SQL, opportunity and won; pipeline and revenue.

The page draws views.funnel.FunnelView and nothing else.
"""

from __future__ import annotations

import streamlit as st

from analytics import breakdown_charts as bc
from pages.components import exports, loaders, page, records
from views.cells import rate_cells

head = page.header("Funnel", "the funnel")
f = head.f
view = loaders.funnel_view(**f.view_key(), history_start=f.history_start.isoformat())
if view.no_periods:
    st.info(view.no_periods)
    st.stop()

# --- the cohort of the period -----------------------------------------------------------------------------
st.subheader(view.cohort_title)
if view.empty_cohort:
    st.info(view.empty_cohort)
else:
    for column, stage in zip(st.columns(len(view.stages)), view.stages, strict=True):
        column.metric(
            stage.label, stage.value, delta=stage.note, delta_color="off", delta_arrow="off", border=True
        )
    left, right = st.columns([3, 2])
    with left:
        page.show_chart(view.cohort_chart, key="funnel_cohort")
    with right:
        st.markdown("**Median time between stages** (calendar days, of the leads that reached both)")
        for label, days in view.stage_days:
            st.metric(label, days)
        st.caption(
            "A lead counts as SQL once qualified or once it has a deal; opportunity: a deal exists; won: a deal was "
            "won — all by now. Young cohorts are still moving down the funnel."
        )

records.records_behind(view.figures(), f, key="funnel")  # the leads or deals behind a figure


def cohort_columns() -> dict:
    """The cohort table's headers: short, so its twelve columns fit a 1400-pixel screen; each says in full
    what it counts on hover."""
    text, number = st.column_config.TextColumn, st.column_config.NumberColumn
    rates = {**bc.CONVERSIONS, "mql_to_won": "MQL → won"}
    short = {"mql_to_sql": "MQL→SQL", "sql_to_opportunity": "SQL→opp.", "opportunity_to_won": "Opp.→won",
             "mql_to_won": "MQL→won"}  # fmt: skip
    days = {
        "days_mql_to_sql": "to SQL",
        "days_sql_to_opportunity": "to opp.",
        "days_opportunity_to_won": "to won",
    }
    return {
        "period": text("Cohort", help="The period the leads were handed over in (MQL)"),
        "mql": number("MQL", width="small", help="Leads handed over in the period"),
        "sql": number("SQL", width="small", help="Of those, accepted as sales qualified (SQL) by now"),
        "opportunity": number("Opp.", width="small", help="Of those, with an opportunity (deal) by now"),
        "won": number("Won", width="small", help="Of those, with a won deal by now"),
        **{c: text(short[c], width="small", help=f"Conversion {label}") for c, label in rates.items()},
        **{c: number(f"Days {days[c]}", format="%.1f", width="small", help=f"Median days {label}")
           for c, label in bc.STAGE_DAYS.items()},
    }  # fmt: skip


# --- cohorts over time ------------------------------------------------------------------------------------
st.subheader(view.cohorts_title)
if view.cohort_table is None:
    st.info(view.no_cohorts)
else:
    left, right = st.columns(2)
    with left:
        page.show_chart(view.conversion_chart, key="funnel_conversion")
    with right:
        page.show_chart(view.days_chart, key="funnel_days")
    rates = {c: "— (none)" for c in [*bc.CONVERSIONS, "mql_to_won"]}  # written the one way (views.cells)
    st.dataframe(
        rate_cells(view.cohort_table, rates), key="funnel_cohort_table", hide_index=True,
        column_config=cohort_columns(),
    )  # fmt: skip
    exports.download_csv(view.cohort_table, f"funnel-cohorts-{f.period}.csv", key="funnel_cohort_csv")

# --- pipeline and won revenue -----------------------------------------------------------------------------
st.subheader(view.revenue_title)
for column, revenue in zip(st.columns(len(view.revenue)), view.revenue, strict=True):
    with column:
        if revenue.chart is None:
            st.info(revenue.no_deals)
        else:
            page.show_chart(revenue.chart, key=f"funnel_{revenue.metric}")
        if revenue.sentence is not None:
            st.badge(revenue.status_label, color=revenue.badge)
            st.write(revenue.sentence)
        if revenue.missing_amounts:
            st.warning(revenue.missing_amounts, icon=":material/warning:")
        if revenue.table is not None:
            exports.download_csv(revenue.table, f"{revenue.metric}-by-period-{f.period}.csv",
                                 key=f"funnel_{revenue.metric}_csv", label="Download CSV (per period)")  # fmt: skip
st.caption(
    "Sourced pipeline: deals opened in the period whose lead came from marketing. Won revenue: deals won in the "
    "period. Bars coloured by status; grey: no target in the agreement."
)
