"""Overview: every commitment of both sides, this week and this period, week over week, the biggest gaps.

The executive's page before the weekly meeting. A week is an ISO week in the
agreement's timezone (analytics.snapshots explains the prorated week targets).
Closed weeks show their frozen figures (the ones shown in that week's meeting);
the last closed week is frozen when this page is first opened after it ended.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import wording
from analytics.charts import STATUS_COLORS, STATUS_LABELS, trend_chart
from analytics.snapshots import (
    as_figures,
    biggest_gaps,
    commitment_title,
    format_change,
    format_value,
    last_closed_week,
    overview_window,
    period_title,
    scoreboard,
    week_dates,
    week_grid,
    weeks_between,
)
from data.repository import StorageError
from pages.components import auth, exports, filters, loaders, page

BADGES = {"#1a9850": "green", "#f59e0b": "orange", "#d73027": "red"}


def badge(status: str) -> None:
    st.badge(STATUS_LABELS.get(status, status), color=BADGES.get(STATUS_COLORS.get(status, ""), "gray"))


def show_chart(fig, key: str, week: str) -> None:
    """A plotly chart whose modebar button downloads it as a PNG named after it and the week."""
    st.plotly_chart(
        fig, key=key, config={"toImageButtonOptions": {"format": "png", "filename": f"accord-{key}-{week}"}}
    )


st.title("Overview")
f = filters.current()
if f is None:
    st.info("No agreement yet: save one on the **Agreement** page to see both sides' commitments here.")
    st.stop()
page.data_notice(f.url, stop_when_empty=False)
doc = f.document
tz, currency = doc.timezone, doc.currency
versions = loaders.agreement_versions(f.url, f.agreement)
sliced = bool(f.teams or f.owners or f.channels)
live = "as_of" not in st.query_params  # looking at now, not at the past

weeks = weeks_between(f.period_start, min(f.period_end, f.as_of + pd.Timedelta(microseconds=1)), tz)[::-1]
picker, about = st.columns([1, 2], vertical_alignment="bottom")
week = picker.selectbox(
    "Week", weeks, key="week", bind="query-params",  # plain labels: the URL holds e.g. week=2026-W47
    help=f"ISO weeks (Monday to Sunday, {tz}) of {period_title(f.period)}; the first is the latest.",
)  # fmt: skip
if week not in weeks:  # a deep link to a week outside the period (or not a week at all)
    picker.caption(f"{week!r} is not a week of {period_title(f.period)} so far; showing {weeks[0]}.")
    week = weeks[0]
# One window of data for everything on this page: the week, its trend and the period chosen.
need_start, need_end = overview_window(versions, week, f.as_of)
start, end = min(f.period_start, need_start).isoformat(), max(f.period_end, need_end).isoformat()

# Freeze the last closed week the first time anyone looks after it ended (cron does it too: cli.py snapshot).
if live:
    closed = last_closed_week(f.as_of, tz)
    frozen_weeks = loaders.snapshots(f.url, f.agreement)
    if not ((frozen_weeks["week"] == closed) & frozen_weeks["final"].astype(bool)).any():
        lo, hi = overview_window(versions, closed, f.as_of, trend_weeks=1)
        if pd.Timestamp(start) <= lo and hi <= pd.Timestamp(end):
            lo, hi = pd.Timestamp(start), pd.Timestamp(end)  # the frames this page reads anyway
        try:
            done = loaders.freeze_week(
                f.url, f.agreement, closed, f.as_of.isoformat(), lo.isoformat(), hi.isoformat()
            )
        except StorageError as exc:
            st.caption(f"{closed} could not be frozen: {exc}")
        else:
            if done.written:
                st.toast(f"{closed} is frozen: its figures now stay as shown.", icon=":material/ac_unit:")

key = f.key()
overview = loaders.week_overview(
    f.url, f.agreement, week, key["as_of"], start, end, f.teams, f.owners, f.channels
)  # fmt: skip
period_rows = loaders.period_evaluation(
    f.url, f.agreement, f.period_start.isoformat(), f.period_end.isoformat(), key["as_of"], start, end,
    f.teams, f.owners, f.channels,
)  # fmt: skip
week_rows = overview.week_rows()
period_name = period_title(f.period)

state = "in progress" if not overview.is_closed else "closed"
names = loaders.owners(f.url).set_index("id")["name"]
selection = wording.selection_text(f.teams, [names.get(o, f"owner {o}") for o in f.owners], f.channels,
                                   markdown=True)  # fmt: skip
about.caption(
    f"{week} ({week_dates(week)}, {state}) and {period_name} · {selection} · "
    f"as of {f.as_of.tz_convert(tz):%Y-%m-%d %H:%M} ({tz})"
)
notes = []
for label, frozen_at in sorted(overview.frozen.items()):
    notes.append(
        f"{label} shows the figures frozen on {frozen_at:%d %b %Y %H:%M} UTC, as shown in that week's meeting."
    )
if sliced:
    notes.append(
        "Filtered by team, owner or channel: weeks are recomputed (frozen figures are for the whole agreement)."
    )
if notes:
    st.caption(" ".join(notes))
if week_rows.empty:
    st.info(f"Nothing to show for {week} yet.")
    st.stop()
if int(week_rows["n"].fillna(0).sum()) == 0:
    st.info(f"No leads or deals in {week} ({week_dates(week)}) yet: counts are 0 and rates have no data.")

# --- the biggest gaps -----------------------------------------------------------------------------------------
st.subheader("The three biggest gaps")
gaps = biggest_gaps(pd.concat([week_rows, as_figures(period_rows, "period", f.as_of)]), currency=currency)
if gaps.empty:
    st.success(f"Every commitment with a target is met or on track in {week} and {period_name}.")
for n, gap in enumerate(gaps.to_dict("records"), start=1):
    box = st.error if gap["status"] in ("missed", "off track") else st.warning
    box(f"**{n}.** {gap['sentence']} — *{STATUS_LABELS.get(gap['status'], gap['status'])}*")
if len(overview.corrections):
    st.warning(
        "**Data corrected since freezing.** " + " ".join(overview.corrections["message"].tolist()),
        icon=":material/history:",
    )

# --- every commitment, by side ------------------------------------------------------------------------------
changes = overview.changes.set_index("commitment")
by_period = period_rows.set_index("commitment")
descriptions = {c.id: c.description for c in doc.commitments}  # the help of each card
for party in [p for p in doc.parties if (week_rows["party"] == p).any()]:
    st.subheader(party.capitalize())
    rows = week_rows[week_rows["party"] == party].to_dict("records")
    columns = st.columns(min(3, len(rows)))
    for i, row in enumerate(rows):
        cid, kind, unit = row["commitment"], row["kind"], row["unit"]
        title = commitment_title(cid)
        change = changes.loc[cid] if cid in changes.index else None
        p_row = by_period.loc[cid] if cid in by_period.index else None
        with columns[i % len(columns)], st.container(border=True, key=f"overview_card_{cid}"):
            delta, direction = None, "normal"
            if change is not None and pd.notna(change["change"]):
                delta = f"{format_change(change['change'], kind, unit, currency)} vs {overview.previous_week[-3:]}"
                direction = (
                    "off" if change["change"] == 0 else ("inverse" if row["lower_is_better"] else "normal")
                )
            st.metric(f"**{title}** · {week}", format_value(row["actual"], kind, unit, currency), delta=delta,
                      delta_color=direction, help=descriptions.get(cid))  # fmt: skip
            badge(row["status"])
            if p_row is None:
                st.caption(f"Not in the agreement for {period_name}.")
            else:
                st.metric(f"{title} · {period_name}", format_value(p_row["actual"], kind, unit, currency))
                badge(p_row["status"])
            week_target = format_value(row["target"], kind, unit, currency)
            lines = [f"**{week}**: " + ("no target" if pd.isna(row["target"]) else f"target {week_target}")]
            if change is not None and change["projected"] and pd.notna(change["value"]):
                lines.append(f"on pace for {format_value(change['value'], kind, unit, currency)} (the change "
                             "compares this pace)")  # fmt: skip
            if kind == "rate" and row["pending"] and row["pending"] > 0:
                lines.append(f"{row['pending']:,.0f} leads pending")
            if change is not None and pd.notna(change["previous"]):
                lines.append(
                    f"{overview.previous_week} at its close: {format_value(change['previous'], kind, unit, currency)}"
                )
            if p_row is not None:
                p_target = (
                    "no target"
                    if pd.isna(p_row["target"])
                    else f"target {format_value(p_row['target'], kind, unit, currency)}"
                )
                p_line = f"**{period_name}**: {p_target}"
                if (
                    kind in ("count", "amount")
                    and p_row["period_state"] == "current"
                    and pd.notna(p_row["projection"])
                ):
                    p_line += f", on pace for {format_value(p_row['projection'], kind, unit, currency)}"
                lines.append(p_line)
            st.caption(" · ".join(lines))

# --- week by week -------------------------------------------------------------------------------------------
st.subheader("Week by week")
st.caption(
    "The last weeks as known now (leads pending at a week's close have been decided since), each cell coloured "
    "by that week's status against the week's target — for counts and amounts the period's target prorated by "
    "the week's share of its business time."
)
if overview.trend.empty:
    st.write("No weekly figures yet.")
else:
    values, statuses = week_grid(overview.trend, currency)
    tints = statuses.map(lambda s: f"background-color: {STATUS_COLORS[s]}33" if s in STATUS_COLORS else "")
    st.dataframe(values.style.apply(lambda _: tints, axis=None), key="overview_weeks", hide_index=True,
                 width="stretch")  # fmt: skip
    # One chart at a time: each plotly chart costs the browser about a second to draw.
    ids = list(dict.fromkeys(overview.trend["commitment"]))
    first = gaps["commitment"].iloc[0] if len(gaps) else ids[0]
    chosen = st.selectbox("Chart", ids, index=ids.index(first) if first in ids else 0, key="overview_chart",
                          format_func=commitment_title, help="The commitment to draw week by week.")  # fmt: skip
    rows = overview.trend[overview.trend["commitment"] == chosen]
    fig = trend_chart(rows, title=f"{commitment_title(chosen)} per week, against the week's target",
                      currency=currency)  # fmt: skip
    weeks_shown = rows["period"].tolist()
    fig.update_layout(height=360, xaxis={"type": "category", "title": {"text": "ISO week"},
                                         "tickvals": weeks_shown, "ticktext": [w[-3:] for w in weeks_shown]})  # fmt: skip
    show_chart(fig, "overview_trend", week)

# --- tables and exports -------------------------------------------------------------------------------------
st.subheader("Every commitment")
table = scoreboard(
    week_rows, overview.changes, period_rows, previous_week=overview.previous_week, currency=currency
)
st.dataframe(table, key="overview_table", hide_index=True, width="stretch")

figures = pd.concat(
    [week_rows, overview.previous, as_figures(period_rows, "period", f.as_of)], ignore_index=True
)
left, middle, right = st.columns(3)
with left:
    exports.download_csv(figures, f"accord-overview-{week}.csv", key="overview_csv", label="Figures (CSV)")
with middle:
    exports.download_csv(overview.trend, f"accord-weeks-{week}.csv", key="overview_trend_csv",
                         label="Week by week (CSV)")  # fmt: skip
with right:
    st.download_button(
        "Meeting pack (PDF)",
        data=lambda: loaders.meeting_pack(f.url, f.agreement, week, key["as_of"], start, end),
        file_name=f"accord-meeting-pack-{week}.pdf", mime="application/pdf", key="overview_pdf",
        on_click="ignore", icon=":material/picture_as_pdf:",
        help="The whole agreement (no team, owner or channel filter): an overview page and one page per side.",
    )  # fmt: skip

# --- freezing on demand ---------------------------------------------------------------------------------------
frozen_weeks = loaders.snapshots(f.url, f.agreement)
this_snapshot = frozen_weeks[frozen_weeks["week"] == week]
final = bool(len(this_snapshot) and this_snapshot["final"].iloc[0])
if final:
    st.caption(f"{week} was frozen for good on {this_snapshot['frozen_at'].iloc[0]:%d %b %Y %H:%M} UTC.")
elif live and auth.can("freeze_week"):
    kind = (
        "provisional: replaced by the final snapshot when the week closes"
        if not overview.is_closed
        else "final"
    )
    if st.button(f"Freeze {week} now", key="overview_freeze", icon=":material/ac_unit:",
                 help=f"Save {week}'s figures for the whole agreement as they stand ({kind})."):  # fmt: skip
        try:
            user = auth.current_user()
            done = loaders.freeze_week(f.url, f.agreement, week, f.as_of.isoformat(), start, end,
                                       actor=user.email or user.name)  # fmt: skip
        except StorageError as exc:
            st.error(str(exc))
        else:
            st.success(done.describe())
    if len(this_snapshot):
        st.caption(
            f"Provisional snapshot of {week} taken {this_snapshot['frozen_at'].iloc[0]:%d %b %Y %H:%M} UTC."
        )
