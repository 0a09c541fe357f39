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
from analytics.periods import last_closed_week
from analytics.snapshots import overview_window
from data.transactions import StorageError
from pages.components import auth, exports, loaders, page, records
from views.overview import data_window, opening_week, week_choices


def show_chart(fig, key: str, week: str) -> None:
    """A plotly chart whose modebar button downloads it as a PNG named after it and the week."""
    st.plotly_chart(
        fig, key=key, config={"toImageButtonOptions": {"format": "png", "filename": f"accord-{key}-{week}"}}
    )


@st.fragment
def week_chart(view, week: str) -> None:
    """One commitment's weeks at a time (each plotly chart costs the browser time to draw); choosing another
    reruns this chart only, not the page."""
    ids = list(view.chart_ids)
    chosen = st.selectbox("Chart", ids, index=ids.index(view.default_chart), key="overview_chart",
                          format_func=view.chart_labels.get,
                          help="The commitment to draw week by week.")  # fmt: skip
    show_chart(view.charts[chosen], "overview_trend", week)


# The week picker comes first: the view's own caption then says which week and period are shown.
f = page.header("Overview", "both sides' commitments here", caption=False, stop_when_empty=False).f
tz = f.document.timezone
versions = loaders.agreement_versions(f.url, f.agreement)
live = "as_of" not in st.query_params  # looking at now, not at the past

weeks = week_choices(versions, f.view())
opening = opening_week(versions, f.view())
asked = st.query_params.get("week")  # before the picker: it drops a value that is not one of its options
picker, about = st.columns([1, 2], vertical_alignment="bottom")
week = picker.selectbox(
    "Week", weeks, index=weeks.index(opening), key="week", bind="query-params",  # the URL holds e.g. 2026-W47
    help=f"ISO weeks (Monday to Sunday, {tz}), the first the current one. Until the close of a week's first "
    "working day the page opens on the week just closed.",
)  # fmt: skip
# A deep link to a week that cannot be chosen (or not a week at all) says so.
if asked is not None and asked not in weeks:
    picker.warning(
        f"No week {wording.literal(repr(asked[:40]))} among the last {len(weeks)}; showing {week}."
    )
# One window of data for everything on this page: the week, its trend and the period chosen.
lo, hi = data_window(versions, f.view(), week)
start, end = lo.isoformat(), hi.isoformat()

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

key = f.view_key()
view = loaders.overview_view(**key, week=week)
overview = view.overview

about.caption(view.about)
if view.notes:
    st.caption(view.notes)
if view.nothing:
    st.info(view.nothing)
    st.stop()
if view.no_rows:
    st.info(view.no_rows)

# --- the biggest gaps -----------------------------------------------------------------------------------------
st.subheader("The three biggest gaps")
if not view.gaps:
    st.success(view.all_met)
for n, gap in enumerate(view.gaps, start=1):
    box = st.error if gap.severe else st.warning
    box(f"**{n}.** {gap.sentence} — *{gap.status_label}*")
if view.corrections:
    st.warning("**Data corrected since freezing.** " + view.corrections, icon=":material/history:")

# --- every commitment, by side ------------------------------------------------------------------------------
for party in view.parties:
    st.subheader(party.capitalize())
    cards = [c for c in view.cards if c.party == party]
    columns = st.columns(min(3, len(cards)))
    for i, card in enumerate(cards):
        with columns[i % len(columns)], st.container(border=True, key=f"overview_card_{card.commitment}"):
            st.metric(card.label, card.value, delta=card.delta, delta_color=card.delta_color, help=card.help)
            st.badge(card.status_label, color=card.badge)
            if card.period_label is None:
                st.caption(card.missing_period)
            else:
                st.metric(card.period_label, card.period_value)
                st.badge(card.period_status_label, color=card.period_badge)
            st.caption(card.caption)

# --- week by week -------------------------------------------------------------------------------------------
st.subheader("Week by week")
st.caption(
    "The last weeks as known now (leads pending at a week's close have been decided since), each cell coloured "
    "by that week's status against the week's target — for counts and amounts the period's target prorated by "
    "the week's share of its business time."
)
if not view.chart_ids:
    st.write("No weekly figures yet.")
else:
    tints = view.grid_tints
    st.dataframe(view.grid_values.style.apply(lambda _: tints, axis=None), key="overview_weeks", hide_index=True,
                 width="stretch")  # fmt: skip
    week_chart(view, week)

# --- tables and exports -------------------------------------------------------------------------------------
st.subheader("Every commitment")
st.dataframe(view.table, key="overview_table", hide_index=True, width="stretch")

left, middle, right = st.columns(3)
with left:
    exports.download_csv(
        view.figures_csv, f"accord-overview-{week}.csv", key="overview_csv", label="Figures (CSV)"
    )
with middle:
    exports.download_csv(overview.trend, f"accord-weeks-{week}.csv", key="overview_trend_csv",
                         label="Week by week (CSV)")  # fmt: skip
with right:
    st.download_button(
        "Meeting pack (PDF)",
        data=lambda: loaders.meeting_pack(f.url, f.agreement, key["period"], key["start"], key["end"],
                                          key["as_of"], week),
        file_name=f"accord-meeting-pack-{week}.pdf", mime="application/pdf", key="overview_pdf",
        on_click="ignore", icon=":material/picture_as_pdf:",
        help="The whole agreement (no team, owner or channel filter): an overview page and one page per side.",
    )  # fmt: skip

# the leads or deals behind a figure of the week or of the period
records.records_behind(view.figures(), f, key="overview", week=week, frozen=week in overview.frozen)

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
