"""UI-side helpers shared by the pages: cached loaders, filters, banners.

Importing this package (every page and app.py do) switches Streamlit to
``st.navigation`` routing. Streamlit treats a ``pages/`` folder beside the entry
script as a legacy multipage app until ``st.navigation`` has run once in the
process, so a deep link such as ``/sales`` as the very first request after a
restart would run ``pages/sales.py`` on its own, without app.py's filters and
bootstrap. Turning the legacy mode off and rerunning sends that first request
through app.py like every other.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()
