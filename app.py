"""Accord's entry point: ``streamlit run app.py``.

The router: connects to the database (loading the demo company on first start),
shows whose data this is, and hands over to the selected page.
"""

from __future__ import annotations

import streamlit as st

from data.engine import DatabaseConfigError, database_url
from pages.components import banner, loaders

st.set_page_config(
    page_title="Accord — Sales and Marketing SLA", page_icon=":material/handshake:", layout="wide"
)

try:
    loaders.engine()
    loaders.bootstrap()
except DatabaseConfigError as exc:
    st.error(str(exc))
    st.stop()

pages = {
    "Setup": [
        st.Page("pages/data.py", title="Data", icon=":material/database:", url_path="data", default=True),
    ],
}
navigation = st.navigation(pages)
banner.freshness_banner(database_url())
navigation.run()
