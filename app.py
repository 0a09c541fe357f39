"""Accord's entry point: ``streamlit run app.py``.

The router: connects to the database (saving the default agreement and loading
the demo company on first start), draws the shared filters in the sidebar,
shows whose data this is and how fresh, and hands over to the selected page.
"""

from __future__ import annotations

import streamlit as st

from data.engine import DatabaseConfigError, database_url
from pages.components import auth, banner, filters, loaders
from pages.components import navigation as navigation_pages

st.set_page_config(
    page_title="Accord — Sales and Marketing SLA", page_icon=":material/handshake:", layout="wide"
)

try:
    loaders.engine()
    loaders.bootstrap()
except DatabaseConfigError as exc:
    st.error(str(exc))
    st.stop()

url = database_url()
role = auth.current_user().role
navigation = st.navigation(navigation_pages.pages_for(role))
filters.remember(filters.sidebar(url))
banner.freshness_banner(url)
navigation.run()
