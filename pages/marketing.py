"""Marketing: are MQLs, SQLs and sourced pipeline on pace; which channels are short; why sales rejects leads."""

from __future__ import annotations

import streamlit as st

from analytics import breakdown_charts as bc
from analytics import breakdowns as bd
from analytics import wording
from analytics.charts import STATUS_LABELS, pacing_chart, trend_chart
from analytics.metrics import METRICS
from pages.components import exports, loaders, page

HEADLINE = {"mql_count": "MQLs", "sql_count": "SQLs", "sourced_pipeline": "Sourced pipeline"}
BREAKDOWNS = {"channel": "Channel", "campaign": "Campaign"}


def status_badge(status: str) -> None:
    st.badge(STATUS_LABELS.get(status, status), color=wording.badge_color(status))


head = page.header("Marketing", "marketing's commitments")
f, doc, period, selection = head.f, head.doc, head.period, head.selection
subtitle = head.subtitle

key = f.key()
window = {"start": f.period_start.isoformat(), "end": f.period_end.isoformat()}
history = {"start": f.history_start.isoformat(), "end": f.period_end.isoformat()}
results = loaders.tracked_evaluation(**key, **history)

# --- against target ---------------------------------------------------------------------------------------
st.subheader(f"Against target — {period}")
if not f.is_current_period:
    st.caption(f"{period} is closed: its status is final (met or missed).")
shown = {}
for column, (metric, label) in zip(st.columns(len(HEADLINE)), HEADLINE.items(), strict=True):
    commitment = bd.tracked_commitment(doc, metric)
    row = bd.row_for(results, doc, metric, f.period)
    with column, st.container(border=True):
        if row is None:
            st.info(f"No {label} to show for {period}.")
            continue
        shown[metric] = (commitment, row)
        kind = METRICS[metric].kind
        figure = wording.format_value(row["actual"], kind, currency=doc.currency, beside=row["target"])
        st.metric(label, figure,
                  delta=wording.delta_text(row, currency=doc.currency), help=commitment.description)  # fmt: skip
        status_badge(row["status"])
        st.write(wording.result_sentence(row, noun=wording.metric_noun(commitment), currency=doc.currency))
# The pacing charts in a row of their own, so they line up whatever the length of the sentences above.
for column, (metric, label) in zip(st.columns(len(HEADLINE)), HEADLINE.items(), strict=True):
    if metric in shown:
        commitment, row = shown[metric]
        progress = loaders.progress(**key, **window, commitment=commitment.id)
        with column:
            page.show_chart(
                pacing_chart(progress, title=f"{label} by day, cumulative<br><sup>{subtitle}</sup>",
                             kind=METRICS[metric].kind, unit=METRICS[metric].unit, currency=doc.currency,
                             status=row["status"]),
                key=f"marketing_pacing_{metric}",
            )  # fmt: skip

# --- by channel and campaign -----------------------------------------------------------------------------
st.subheader(f"By channel and campaign — {period}")
by = st.segmented_control(
    "Break down by", list(BREAKDOWNS), format_func=BREAKDOWNS.get, default="channel", required=True,
    key="marketing_by",
)  # fmt: skip
volume = loaders.marketing_breakdown(**key, **window, what="volume", by=by)
if volume.empty:
    st.info(f"No lead was handed over and no marketing-sourced deal was opened in {period} for {selection}.")
else:
    left, right = st.columns([2, 3])
    with left:
        page.show_chart(
            bc.volume_chart(volume, by=by, title=f"MQLs and SQLs by {by} (top 15)<br><sup>{subtitle}</sup>"),
            key=f"marketing_volume_{by}",
        )
    with right:
        st.dataframe(
            volume, key=f"marketing_volume_table_{by}", hide_index=True,
            column_config={
                by: BREAKDOWNS[by], "mqls": "MQLs", "sqls": "SQLs",
                "mql_to_sql": st.column_config.NumberColumn("MQL → SQL", format="percent"),
                "sourced_deals": "Sourced deals",
                "sourced_pipeline": st.column_config.NumberColumn(f"Pipeline ({doc.currency or 'amount'})",
                                                                  format="localized"),
                "share_of_mqls": st.column_config.NumberColumn("Share of MQLs", format="percent"),
            },
        )  # fmt: skip
        st.caption(
            "SQLs: leads handed over in the period and qualified by now. Pipeline: deals opened in the period "
            "from marketing's leads."
        )
        exports.download_csv(volume, f"marketing-by-{by}-{f.period}.csv", key=f"marketing_volume_csv_{by}")

# --- acceptance and rejection reasons ---------------------------------------------------------------------
st.subheader(f"Acceptance and rejection reasons by channel — {period}")
acceptance_commitment = bd.tracked_commitment(doc, "acceptance_rate")
acceptance_row = bd.row_for(results, doc, "acceptance_rate", f.period)
if acceptance_row is not None:
    status_badge(acceptance_row["status"])
    st.write(wording.result_sentence(acceptance_row, noun=wording.metric_noun(acceptance_commitment)))
acceptance = loaders.marketing_breakdown(**key, **window, what="acceptance", by="channel")
reasons = loaders.marketing_breakdown(**key, **window, what="rejections", by="channel")
if acceptance.empty:
    st.info(f"No lead was handed over in {period} for {selection}: nothing to accept or reject.")
else:
    left, right = st.columns(2)
    with left:
        page.show_chart(
            bc.acceptance_chart(acceptance, by="channel", title=f"Accepted vs rejected leads<br><sup>{subtitle}</sup>",
                                target=acceptance_commitment.target),
            key="marketing_acceptance",
        )  # fmt: skip
        st.dataframe(
            acceptance, key="marketing_acceptance_table", hide_index=True,
            column_order=["channel", "leads", "accepted", "rejected", "open", "acceptance_rate"],
            column_config={
                "channel": "Channel", "leads": "Leads", "accepted": "Accepted", "rejected": "Rejected",
                "open": "Open", "acceptance_rate": st.column_config.NumberColumn("Acceptance", format="percent"),
            },
        )  # fmt: skip
        exports.download_csv(
            acceptance, f"acceptance-by-channel-{f.period}.csv", key="marketing_acceptance_csv"
        )
    with right:
        if reasons.empty:
            st.info(f"Sales has rejected none of the leads handed over in {period} (so far).")
        else:
            page.show_chart(
                bc.rejection_reasons_chart(reasons, by="channel",
                                           title=f"Why sales rejected leads<br><sup>{subtitle}</sup>"),
                key="marketing_reasons",
            )  # fmt: skip
            matrix = bd.reasons_table(reasons, "channel")
            st.dataframe(matrix, key="marketing_reasons_table", hide_index=True,
                         column_config={"channel": "Channel", "rejected": "Rejected"})  # fmt: skip
            exports.download_csv(matrix, f"rejection-reasons-{f.period}.csv", key="marketing_reasons_csv")

# --- MQL -> SQL trend -------------------------------------------------------------------------------------
trend = bd.rows_for(results, doc, "mql_to_sql_rate")
if trend.empty:
    st.info("The agreement's periods have not started yet: there is no conversion to show.")
    st.stop()
first, last = wording.period_name(trend["period"].iloc[0]), wording.period_name(trend["period"].iloc[-1])
st.subheader(f"MQL → SQL conversion, {first} to {last}")
if trend["n"].sum() == 0:
    st.info(f"No lead was handed over between {first} and {last} for {selection}.")
else:
    page.show_chart(
        trend_chart(trend, title=f"MQL → SQL conversion by handover period<br><sup>{first} to {last} · {selection}"
                                 "</sup>"),
        key="marketing_conversion_trend",
    )  # fmt: skip
    no_target = trend["target"].isna().all()
    st.caption(
        "A lead counts in the period it was handed over and converts when it reaches SQL (by now): the most "
        "recent periods are still converting."
        + (" The agreement sets no conversion target." if no_target else "")
    )
    table = trend[["period", "n", "met", "actual", "target", "status"]].rename(
        columns={"n": "mqls", "met": "sqls", "actual": "mql_to_sql"}
    )
    table = table.drop(columns="target") if no_target else table
    st.dataframe(
        table, key="marketing_trend_table", hide_index=True,
        column_config={"period": "Period", "mqls": "MQLs", "sqls": "SQLs",
                       "mql_to_sql": st.column_config.NumberColumn("MQL → SQL", format="percent"),
                       "target": st.column_config.NumberColumn("Target", format="percent"), "status": "Status"},
    )  # fmt: skip
    exports.download_csv(table, f"mql-to-sql-{f.period}.csv", key="marketing_trend_csv")
