"""Sales: which reps follow up inside the agreed time, which leads are overdue now, how long we really take.

The page draws views.sales.SalesView and nothing else.
"""

from __future__ import annotations

import streamlit as st

from analytics import wording
from analytics.wording import week_dates
from pages.components import exports, loaders, page, records
from pages.components.alerts_view import mark_alerted
from views.cells import rate_cells
from views.overview import opening_week, week_choices
from views.sales import SALES_METRICS, default_queue_choice, week_filters

HOURS = {"format": "%.1f"}
DECIDED = "— (none decided)"  # a rate over no met or breached lead


head = page.header("Sales", "sales' commitments")
f = head.f
versions = loaders.agreement_versions(f.url, f.agreement)
# A week instead of the period: the Monday meeting's weeks, judged as the Overview judges them.
span_column, week_column, week_about = st.columns([1, 1, 2], vertical_alignment="bottom")
spans = [f.document.period.capitalize(), "Week"]  # the link holds e.g. span=Week
span = span_column.segmented_control("Show", spans, default=spans[0], required=True, key="span",
                                     bind="query-params")  # fmt: skip
key = f.view_key()
if span == "Week" and f.document.period != "week":
    weeks = week_choices(versions, f.view())
    asked = st.query_params.get("week")  # before the picker: it drops a week that is not one of its options
    week = week_column.selectbox("Week", weeks, index=weeks.index(opening_week(versions, f.view())), key="week",
                                 bind="query-params", help="ISO weeks, Monday to Sunday, the first the current one.")  # fmt: skip
    shown = week_filters(versions, f.view(), week)
    state = "in progress" if shown.is_current_period else "closed"
    week_about.caption(f"{week}: {week_dates(week)}, {state}")
    key = {
        **key,
        "period": week,
        "start": shown.period_start.isoformat(),
        "end": shown.period_end.isoformat(),
    }
    if asked is not None and asked not in weeks:  # a linked week that cannot be chosen says so
        st.warning(
            f"No week {wording.literal(repr(asked[:40]))} among the last {len(weeks)}; showing {week}."
        )
view = loaders.sales_view(**key)
shown_period = key["period"]  # the month, or the week shown: the CSV files are named after it

# --- the commitments --------------------------------------------------------------------------------------
st.subheader(f"Sales' commitments — {view.period_name}")
if view.closed_note:
    st.caption(view.closed_note)
tiles = st.columns(len(SALES_METRICS) + 1)
for column, tile in zip(tiles, view.tiles, strict=False):
    with column, st.container(border=True):
        if tile.row is None:
            st.metric(tile.label, tile.value)
            st.write(tile.sentence)
            continue
        st.metric(tile.label, tile.value, delta=tile.delta, help=tile.help)
        st.badge(tile.status_label, color=tile.badge)
        st.write(tile.sentence)
with tiles[-1], st.container(border=True):
    st.metric("Median first touch", view.median_text)
    st.metric("90th percentile", view.p90_text)
    if view.detail is None or view.detail.empty:
        st.write(view.touch_sentence)
    else:
        st.caption(view.touch_sentence)

records.records_behind(view.figures(), f, key="sales")  # the leads behind a figure

if view.detail is None:
    st.info(f"{view.no_limit}. The follow-up sections need that limit.")
    st.stop()

# --- follow-up per rep and team ---------------------------------------------------------------------------
st.subheader(view.followup_title)
if view.detail.empty:
    st.info(view.no_leads)
else:
    left, right = st.columns([3, 2])
    with left:
        page.show_chart(view.rep_chart, key="sales_rep_followup")
    with right:
        st.dataframe(
            rate_cells(view.per_team, {"rate": DECIDED}), key="sales_team_table", hide_index=True,
            column_order=["team", "leads", "rate", "median_hours", "p90_hours"],
            column_config={
                "team": "Team", "leads": "Leads", "rate": "Within limit",
                "median_hours": st.column_config.NumberColumn("Median h", **HOURS),
                "p90_hours": st.column_config.NumberColumn("p90 h", **HOURS), "overdue_untouched": "Overdue now",
            },
        )  # fmt: skip
        st.caption(
            "Within limit: met / (met + breached); pending leads are not counted yet. Median and p90: business "
            "hours from handover to first touch."
        )
        exports.download_csv(view.per_team, f"followup-by-team-{shown_period}.csv", key="sales_team_csv")
    st.dataframe(
        rate_cells(view.per_rep, {"rate": DECIDED}), key="sales_rep_table", hide_index=True,
        column_order=["owner", "team", "leads", "met", "breached", "pending", "rate", "median_hours", "p90_hours",
                      "overdue_untouched"],
        column_config={
            "owner": "Rep", "team": "Team", "leads": "Leads", "met": "Met", "breached": "Breached",
            "pending": "Pending", "rate": "Within limit",
            "median_hours": st.column_config.NumberColumn("Median (business h)", **HOURS),
            "p90_hours": st.column_config.NumberColumn("p90 (business h)", **HOURS),
            "overdue_untouched": "Overdue now",
        },
    )  # fmt: skip
    exports.download_csv(view.per_rep, f"followup-by-rep-{shown_period}.csv", key="sales_rep_csv")


# --- the queue --------------------------------------------------------------------------------------------
@st.fragment
def queue_section(view, url: str, shown_period: str) -> None:
    """The overdue queue: changing "Due within" reruns this section only, not the page and its charts."""
    st.subheader("Overdue now or due soon")
    choices = list(view.queues)
    last = choices[-1]
    hours = st.segmented_control(
        "Due within (business hours)", choices, default=default_queue_choice(tuple(choices)), required=True,
        format_func=lambda h: f"{h:g} h" if h != last else f"{h:g} h (every untouched lead)", key="sales_queue_hours",
        help="The choices stop at the follow-up limit: no untouched lead is due later than that.",
    )  # fmt: skip
    queue = view.queues[hours]
    st.caption(view.queue_caption.format(hours=f"{hours:g}"))
    if queue.table.empty:
        st.success(queue.empty_sentence)
    else:
        st.write(queue.headline)
        # Which leads were already alerted, and when (the alert ledger); who they are and their CRM record.
        table = records.queue_with_people(mark_alerted(queue.table), url)
        st.dataframe(
            records.capped(table, "leads in the queue"), key="sales_queue_table", hide_index=True, width="stretch",
            column_order=["lead", "name", "company", *(["link"] if table["link"].notna().any() else []), "owner", "team",
                          "channel", "handed_over", "due", "hours_left", "state"],
            column_config={
                "lead": "Lead", "name": "Name", "company": "Company",
                "link": st.column_config.LinkColumn("In the CRM", display_text="Open"), "owner": "Owner", "team": "Team",
                "channel": "Channel",
                "handed_over": st.column_config.DatetimeColumn("Handed over", format="YYYY-MM-DD HH:mm"),
                "due": st.column_config.DatetimeColumn("Due", format="YYYY-MM-DD HH:mm"),
                "hours_left": st.column_config.NumberColumn("Business hours left", **HOURS), "state": "State",
            },
        )  # fmt: skip
        exports.download_csv(table, view.queue_file, key="sales_queue_csv")


queue_section(view, f.url, shown_period)

# --- response time, routing vs rep ------------------------------------------------------------------------
st.subheader(view.response_title)
if view.detail.empty:
    st.info(view.no_leads)
else:
    left, right = st.columns(2)
    with left:
        if view.histogram is not None:
            page.show_chart(view.histogram, key="sales_response_histogram")
        else:
            st.info(f"No lead handed over in {view.period_name} has been touched yet.")
    with right:
        page.show_chart(view.delay_chart, key="sales_delays")
    st.dataframe(
        view.delays, key="sales_delays_table", hide_index=True,
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
    exports.download_csv(view.delays, f"routing-vs-rep-delay-{shown_period}.csv", key="sales_delays_csv")

# --- touches and disposition ------------------------------------------------------------------------------
st.subheader(view.reps_title)
for column, reps in zip(st.columns(2), view.rep_rows, strict=True):
    with column:
        if reps.chart is None:
            st.info(reps.message)
            continue
        page.show_chart(reps.chart, key=f"sales_{reps.metric}")
        exports.download_csv(reps.table, f"{reps.commitment}-by-rep-{shown_period}.csv", key=f"sales_{reps.metric}_csv",
                             label="Download CSV (per rep)")  # fmt: skip
