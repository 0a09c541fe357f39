"""Funnel: of the leads handed over each period, how many reached SQL, opportunity and won; pipeline and revenue."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import breakdown_charts as bc
from analytics import breakdowns as bd
from analytics import wording
from analytics.charts import STATUS_LABELS, funnel_chart, trend_chart
from analytics.funnel import STAGE_LABELS, STAGES, funnel_totals
from pages.components import exports, loaders, page

REVENUE = {"sourced_pipeline": "Sourced pipeline", "won_revenue": "Won revenue"}


head = page.header("Funnel", "the funnel")
f, doc, period, selection = head.f, head.doc, head.period, head.selection

key = f.key()
history = {"start": f.history_start.isoformat(), "end": f.period_end.isoformat()}
cohorts = loaders.cohorts(**key, **history)
if cohorts.empty:
    st.info("The agreement's periods have not started yet: there is no funnel to show.")
    st.stop()
selected = cohorts[cohorts["period"] == f.period]
first, last = wording.period_name(cohorts["period"].iloc[0]), wording.period_name(cohorts["period"].iloc[-1])
span = f"{first} to {last} · {selection}"

# --- the cohort of the period -----------------------------------------------------------------------------
st.subheader(f"Leads handed over in {period}")
targets = bd.stage_targets(doc)
if selected.empty or int(selected["mql"].iloc[0]) == 0:
    st.info(f"No lead was handed over in {period} for {selection}: the cohort is empty.")
else:
    cohort = selected.iloc[0]
    totals = funnel_totals(selected)
    for column, stage, (_, total) in zip(st.columns(len(STAGES)), STAGES, totals.iterrows(), strict=True):
        label = STAGE_LABELS[stage]
        if stage != "mql":
            note = f"{wording.share_text(total['of_mql'])} of MQLs"
        elif label in targets:
            note = (
                f"{wording.share_text(total['leads'] / targets[label])} of the {targets[label]:,.0f} target"
            )
        else:
            note = "handed over"
        column.metric(label, f"{int(total['leads']):,}", delta=note, delta_color="off", delta_arrow="off",
                      border=True)  # fmt: skip
    left, right = st.columns([3, 2])
    with left:
        page.show_chart(
            funnel_chart(totals, title=f"Funnel of the leads handed over<br><sup>{period} · {selection}</sup>",
                         targets=targets),
            key="funnel_cohort",
        )  # fmt: skip
    with right:
        st.markdown("**Median time between stages** (calendar days, of the leads that reached both)")
        for column, label in bc.STAGE_DAYS.items():
            days = cohort[column]
            st.metric(label, "–" if pd.isna(days) else f"{days:.1f} days")
        st.caption(
            "A lead counts as SQL once qualified or once it has a deal; opportunity: a deal exists; won: a deal was "
            "won — all by now. Young cohorts are still moving down the funnel."
        )

# --- cohorts over time ------------------------------------------------------------------------------------
st.subheader(f"Cohorts by handover period, {first} to {last}")
if int(cohorts["mql"].sum()) == 0:
    st.info(f"No lead was handed over between {first} and {last} for {selection}.")
else:
    mql_to_sql = bd.find_commitment(doc, "mql_to_sql_rate")
    left, right = st.columns(2)
    with left:
        page.show_chart(
            bc.conversion_chart(cohorts, title=f"Conversion by handover period<br><sup>{span}</sup>",
                                target=mql_to_sql.target if mql_to_sql is not None else None),
            key="funnel_conversion",
        )  # fmt: skip
    with right:
        page.show_chart(bc.stage_days_chart(cohorts, title=f"Median days between stages<br><sup>{span}</sup>"),
                   key="funnel_days")  # fmt: skip
    table = cohorts.drop(columns=["period_start", "period_end"])
    st.dataframe(
        table, key="funnel_cohort_table", hide_index=True,
        column_config={
            "period": "Handed over in", "mql": "MQL", "sql": "SQL", "opportunity": "Opportunity", "won": "Won",
            **{c: st.column_config.NumberColumn(label, format="percent")
               for c, label in {**bc.CONVERSIONS, "mql_to_won": "MQL → won"}.items()},
            **{c: st.column_config.NumberColumn(f"Days {label}", format="%.1f") for c, label in bc.STAGE_DAYS.items()},
        },
    )  # fmt: skip
    exports.download_csv(table, f"funnel-cohorts-{f.period}.csv", key="funnel_cohort_csv")

# --- pipeline and won revenue -----------------------------------------------------------------------------
st.subheader(f"Pipeline and won revenue against target, {first} to {last}")
results = loaders.tracked_evaluation(**key, **history)
for column, (metric, label) in zip(st.columns(len(REVENUE)), REVENUE.items(), strict=True):
    commitment = bd.tracked_commitment(doc, metric)
    rows = bd.rows_for(results, doc, metric)
    row = bd.row_for(results, doc, metric, f.period)
    with column:
        if rows.empty or rows["n"].sum() == 0:
            st.info(f"No deal was opened or closed between {first} and {last} for {selection}.")
        else:
            page.show_chart(trend_chart(rows, title=f"{label} by period<br><sup>{span}</sup>", currency=doc.currency),
                       key=f"funnel_{metric}")  # fmt: skip
        if row is not None:
            st.badge(
                STATUS_LABELS.get(row["status"], row["status"]), color=wording.badge_color(row["status"])
            )
            st.write(
                wording.result_sentence(row, noun=wording.metric_noun(commitment), currency=doc.currency)
            )
        if not rows.empty:
            counted = "won deals" if metric == "won_revenue" else "sourced deals"  # n: the deals summed
            table = rows[["period", "actual", "target", "gap", "status", "n"]].rename(columns={"n": counted})
            exports.download_csv(table, f"{metric}-by-period-{f.period}.csv", key=f"funnel_{metric}_csv",
                                 label="Download CSV (per period)")  # fmt: skip
st.caption(
    "Sourced pipeline: deals opened in the period whose lead came from marketing. Won revenue: deals won in the "
    "period. Bars coloured by status; grey: no target in the agreement."
)
