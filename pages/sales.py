"""Sales: which reps follow up inside the agreed time, which leads are overdue now, how long we really take."""

from __future__ import annotations

import streamlit as st

from analytics import breakdown_charts as bc
from analytics import breakdowns as bd
from analytics import wording
from analytics.charts import STATUS_LABELS, rep_compliance_chart, response_time_histogram
from analytics.followup import FollowupError
from pages.components import exports, loaders, page

SALES_METRICS = {
    "followed_up_within": "Follow-up",
    "touches_within": "Touches",
    "dispositioned_within": "Disposition",
}
QUEUE_HOURS = (1, 2, 4, 8)
HOURS = {"format": "%.1f"}


head = page.header("Sales", "sales' commitments")
f, doc, period, selection = head.f, head.doc, head.period, head.selection
subtitle = head.subtitle

key = f.key()
window = {"start": f.period_start.isoformat(), "end": f.period_end.isoformat()}
history = {"start": f.history_start.isoformat(), "end": f.period_end.isoformat()}
results = loaders.tracked_evaluation(**key, **history)  # the one the Marketing and Funnel pages use too
by_owner = loaders.evaluation(**key, **window, by="owner")
commitments = {m: bd.find_commitment(doc, m) for m in SALES_METRICS}
no_limit = ""
try:
    detail = loaders.followup_detail(**key, **window)
except FollowupError as exc:  # the agreement sets no follow-up limit
    detail, no_limit = None, str(exc)
tables = loaders.followup_tables(**key, **window) if detail is not None else {}
no_leads = f"No lead was handed over in {period} for {selection}."

# --- the commitments --------------------------------------------------------------------------------------
st.subheader(f"Sales' commitments — {period}")
if not f.is_current_period:
    st.caption(f"{period} is closed: its status is final (met or missed).")
tiles = st.columns(len(SALES_METRICS) + 1)
for column, (metric, label) in zip(tiles, SALES_METRICS.items(), strict=False):
    commitment = commitments[metric]
    with column, st.container(border=True):
        row = bd.row_for(results, doc, metric, f.period) if commitment is not None else None
        if row is None:
            st.metric(label, "–")
            st.write(f"The agreement has no {label.lower()} commitment ({metric}).")
            continue
        # Never rounded onto the target: 89.5% beside 90% reads 89.5%.
        figure = wording.format_value(row["actual"], "rate", beside=row["target"])
        st.metric(label, figure, delta=wording.delta_text(row),
                  help=commitment.description)  # fmt: skip
        st.badge(STATUS_LABELS.get(row["status"], row["status"]), color=wording.badge_color(row["status"]))
        st.write(wording.result_sentence(row, noun=wording.metric_noun(commitment)))
with tiles[-1], st.container(border=True):
    overall = tables["all"].iloc[0] if detail is not None else None
    short = {"short": True}
    st.metric("Median first touch", wording.format_value(overall["median_hours"] if overall is not None else None,
                                                         "duration", **short))  # fmt: skip
    st.metric("90th percentile", wording.format_value(overall["p90_hours"] if overall is not None else None,
                                                      "duration", **short))  # fmt: skip
    if overall is None:
        st.write(no_limit)
    elif overall["leads"] == 0:
        st.write(no_leads)
    else:
        st.caption(
            f"Business hours from handover to first touch, over the touched leads of the {int(overall['leads']):,} "
            f"handed over in {period}."
        )

if detail is None:
    st.info(f"{no_limit}. The follow-up sections need that limit.")
    st.stop()

# --- follow-up per rep and team ---------------------------------------------------------------------------
speed = commitments["followed_up_within"]
limit = float(detail["limit_hours"].iloc[0]) if len(detail) else speed.metric_params().business_hours
st.subheader(f"Follow-up within {limit:g} business hours, per rep and team — {period}")
if detail.empty:
    st.info(no_leads)
else:
    reps = bd.rows_for(by_owner, doc, "followed_up_within")
    reps = reps[reps["period"] == f.period]
    left, right = st.columns([3, 2])
    with left:
        page.show_chart(rep_compliance_chart(reps, title=f"First touch within {limit:g} business hours, by rep<br><sup>"
                                                    f"{subtitle}</sup>"), key="sales_rep_followup")  # fmt: skip
    with right:
        teams = tables["team"]
        st.dataframe(
            teams, key="sales_team_table", hide_index=True,
            column_order=["team", "leads", "rate", "median_hours", "p90_hours"],
            column_config={
                "team": "Team", "leads": "Leads", "rate": st.column_config.NumberColumn("Within limit", format="percent"),
                "median_hours": st.column_config.NumberColumn("Median h", **HOURS),
                "p90_hours": st.column_config.NumberColumn("p90 h", **HOURS), "overdue_untouched": "Overdue now",
            },
        )  # fmt: skip
        st.caption(
            "Within limit: met / (met + breached); pending leads are not counted yet. Median and p90: business "
            "hours from handover to first touch."
        )
        exports.download_csv(teams, f"followup-by-team-{f.period}.csv", key="sales_team_csv")
    per_rep = tables["owner"]
    st.dataframe(
        per_rep, key="sales_rep_table", hide_index=True,
        column_order=["owner", "team", "leads", "met", "breached", "pending", "rate", "median_hours", "p90_hours",
                      "overdue_untouched"],
        column_config={
            "owner": "Rep", "team": "Team", "leads": "Leads", "met": "Met", "breached": "Breached",
            "pending": "Pending", "rate": st.column_config.NumberColumn("Within limit", format="percent"),
            "median_hours": st.column_config.NumberColumn("Median (business h)", **HOURS),
            "p90_hours": st.column_config.NumberColumn("p90 (business h)", **HOURS),
            "overdue_untouched": "Overdue now",
        },
    )  # fmt: skip
    exports.download_csv(per_rep, f"followup-by-rep-{f.period}.csv", key="sales_rep_csv")

# --- the queue --------------------------------------------------------------------------------------------
st.subheader("Overdue now or due soon")
hours = st.segmented_control(
    "Due within (business hours)", QUEUE_HOURS, default=4, required=True, format_func=lambda h: f"{h} h",
    key="sales_queue_hours",
)  # fmt: skip
queue = loaders.overdue_queue(**key, within_hours=float(hours))
st.caption(
    f"Untouched leads handed over in the last {bd.QUEUE_DAYS} days whose {limit:g}-business-hour limit has passed "
    f"or runs out within {hours} business hours, most urgent first; as of "
    f"{f.as_of.tz_convert(doc.timezone):%Y-%m-%d %H:%M}, times in {doc.timezone}."
)
if queue.empty:
    st.success(f"No lead is overdue or due within the next {hours} business hours for {selection}.")
else:
    overdue = int((queue["hours_left"] < 0).sum())
    st.write(f"**{overdue} overdue** and **{len(queue) - overdue} due within {hours} business hours**.")
    st.dataframe(
        queue, key="sales_queue_table", hide_index=True,
        column_order=["lead", "owner", "team", "channel", "handed_over", "due", "hours_left", "state"],
        column_config={
            "lead": "Lead", "owner": "Owner", "team": "Team", "channel": "Channel",
            "handed_over": st.column_config.DatetimeColumn("Handed over", format="YYYY-MM-DD HH:mm"),
            "due": st.column_config.DatetimeColumn("Due", format="YYYY-MM-DD HH:mm"),
            "hours_left": st.column_config.NumberColumn("Business hours left", **HOURS), "state": "State",
        },
    )  # fmt: skip
    exports.download_csv(queue, f"followup-queue-{f.as_of:%Y%m%d-%H%M}.csv", key="sales_queue_csv")

# --- response time, routing vs rep ------------------------------------------------------------------------
st.subheader(f"How long first touches take — {period}")
if detail.empty:
    st.info(no_leads)
else:
    left, right = st.columns(2)
    with left:
        if detail["business_hours_taken"].notna().any():
            page.show_chart(
                response_time_histogram(detail, sla_hours=limit, title=f"Time to first touch<br><sup>{subtitle}</sup>"),
                key="sales_response_histogram",
            )  # fmt: skip
        else:
            st.info(f"No lead handed over in {period} has been touched yet.")
    delays = tables["delays"]
    with right:
        page.show_chart(
            bc.delay_chart(delays, by="team", title=f"Routing delay vs rep delay<br><sup>{subtitle}</sup>",
                           limit_hours=limit),
            key="sales_delays",
        )  # fmt: skip
    st.dataframe(
        delays, key="sales_delays_table", hide_index=True,
        column_order=["team", "leads", "routed", "routing_median", "routing_p90", "rep_median", "rep_p90"],
        column_config={
            "team": "Team", "leads": "Leads", "routed": "Assignment known",
            **{c: st.column_config.NumberColumn(label, **HOURS) for c, label in (
                ("routing_median", "Routing median h"), ("routing_p90", "Routing p90 h"),
                ("rep_median", "Rep median h"), ("rep_p90", "Rep p90 h"),
                ("taken_median", "Handover → touch median h"), ("taken_p90", "Handover → touch p90 h"))},
        },
    )  # fmt: skip
    st.caption(
        "Business hours. Routing: lead created → owner assigned (it includes any time before the handover). "
        "Rep: owner assigned → first touch. The CSV adds handover → first touch, the agreement's clock."
    )
    exports.download_csv(delays, f"routing-vs-rep-delay-{f.period}.csv", key="sales_delays_csv")

# --- touches and disposition ------------------------------------------------------------------------------
st.subheader(f"Touches and disposition per rep — {period}")
columns = st.columns(2)
for column, metric in zip(columns, ("touches_within", "dispositioned_within"), strict=True):
    commitment = commitments[metric]
    with column:
        if commitment is None:
            st.info(f"The agreement has no {SALES_METRICS[metric].lower()} commitment ({metric}).")
            continue
        reps = bd.rows_for(by_owner, doc, metric)
        reps = reps[reps["period"] == f.period]
        if reps.empty:
            st.info(no_leads)
            continue
        noun = wording.metric_noun(commitment).removeprefix("of ")
        page.show_chart(rep_compliance_chart(reps, title=f"{noun[0].upper()}{noun[1:]}<br><sup>{subtitle}</sup>"),
                   key=f"sales_{metric}")  # fmt: skip
        table = reps[["owner", "n", "met", "breached", "pending", "actual", "target", "status"]]
        exports.download_csv(table, f"{commitment.id}-by-rep-{f.period}.csv", key=f"sales_{metric}_csv",
                             label="Download CSV (per rep)")  # fmt: skip
