"""Data: where the numbers come from — connect HubSpot, import files, see loads, rejected rows and the audit trail."""

from __future__ import annotations

import streamlit as st

import settings
from pages.components import data_view
from pages.components.alerts_view import alerts_panel
from pages.components.import_form import import_panel
from pages.components.salesforce_panel import salesforce_panel

url = settings.database_url()
zone = data_view.page_timezone()  # times in the agreement's timezone, as on every other page
st.title("Data")
st.caption(
    "Where Accord's numbers come from: what is stored, from which source, when it was loaded, "
    "and what could not be used."
)
data_view.open_mode_notice()
data_view.counts_row(url)
data_view.sources_panel(url)

# The panels are tabs (all drawn on every run, so an upload or a choice survives switching tabs).
hubspot, salesforce, files, rejected, history, audit = st.tabs(
    ["HubSpot", "Salesforce", "Import a file", "Rejected rows", "History", "Audit trail"], key="data_tabs"
)
with hubspot:
    data_view.hubspot_panel(url, zone)
with salesforce:
    salesforce_panel(url)
with files:
    import_panel(url)
with rejected:
    data_view.rejected_panel(url, zone)
with history:
    data_view.history_panel(url, zone)
with audit:
    data_view.audit_panel(url, zone)
alerts_panel()  # cli.py alerts: history, failures, routing, a test alert
