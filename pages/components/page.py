"""What the dashboard pages share: the header with its empty states, and how a chart is shown."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from analytics import wording
from analytics.agreement import Agreement
from pages.components import filters, loaders


@dataclass(frozen=True)
class Header:
    """The filters of this run and how the page names them: 'November 2026', 'EMEA · all owners · …'.

    ``selection`` is escaped for Markdown (sentences, captions, alerts); ``subtitle`` is plain, for charts.
    """

    f: filters.Filters
    doc: Agreement
    period: str
    selection: str
    plain_selection: str

    @property
    def subtitle(self) -> str:
        return f"{self.period} · {self.plain_selection}"


def header(
    title: str, without_agreement: str, *, caption: bool = True, stop_when_empty: bool = True
) -> Header:
    """Draw the title and what is shown; stop the page with a sentence when there is no agreement or no data.

    ``without_agreement`` ends "save one on the Agreement page to see …", e.g. "the funnel". Without
    ``caption`` the page says itself what is shown (the Overview, after its week); ``stop_when_empty``: see
    :func:`data_notice`.
    """
    st.title(title)
    f = filters.current()
    if f is None:
        st.info(f"No agreement yet: save one on the **Agreement** page to see {without_agreement}.")
        st.stop()
    for notice in f.notices:  # a link asked for a period, team, owner or channel that does not exist
        st.warning(notice, icon=":material/link_off:")
    doc = f.document
    names = loaders.owners(f.url).set_index("id")["name"]
    chosen = (f.teams, [names.get(o, f"owner {o}") for o in f.owners], f.channels)
    shown = Header(
        f,
        doc,
        wording.period_name(f.period),
        wording.selection_text(*chosen, markdown=True),
        wording.selection_text(*chosen),
    )
    if caption:  # the selection is escaped: team, owner and channel names come from the CRM
        st.caption(
            f"{shown.period} · {shown.selection} · as of {f.as_of.tz_convert(doc.timezone):%Y-%m-%d %H:%M} ({doc.timezone})"
        )
    data_notice(f.url, stop_when_empty)
    return shown


def data_notice(url: str, stop_when_empty: bool = True) -> None:
    """Say so when the data have deals but no leads; with ``stop_when_empty``, stop the page with a sentence
    when there are neither (the Overview instead says per week that there was nothing)."""
    found = loaders.has_rows(url)
    if not found["leads"] and not found["deals"] and stop_when_empty:
        st.info("No data yet: load the demo company, connect HubSpot or import a file on the **Data** page.")
        st.stop()
    if not found["leads"] and found["deals"]:
        st.info(
            "These data have deals but no leads (e.g. an imported pipeline): lead figures read 0 until leads "
            "are synced or imported on the **Data** page; deal figures are complete."
        )


def show_chart(fig, key: str) -> None:
    """A view's plotly chart (laid out for its column by the loaders, shared: never modified here); its
    modebar button downloads a PNG named after chart and period."""
    png = {"format": "png", "filename": f"accord-{key}-{st.query_params.get('period', 'current')}"}
    st.plotly_chart(fig, key=key, config={"toImageButtonOptions": png})
