"""Accord's entry point: ``streamlit run app.py``.

The router: connects to the database (saving the default agreement and loading
the demo company on first start), draws the shared filters in the sidebar,
shows whose data this is and how fresh, and hands over to the selected page.
"""

from __future__ import annotations

import streamlit as st

import settings
from pages.components import auth, banner, errors, filters, loaders
from pages.components import navigation as navigation_pages

st.set_page_config(
    page_title="Accord — Sales and Marketing SLA", page_icon=":material/handshake:", layout="wide"
)

# With [auth] in secrets, nothing but the sign-in page runs until someone with a role signs in.
with errors.shown():  # a bad [auth] section is one message
    user = auth.current_user()
if not auth.may_enter(user):
    sign_in = st.Page(
        "pages/signin.py", title="Sign in", icon=":material/login:", url_path="signin", default=True
    )
    st.navigation([sign_in], position="hidden").run()
    st.stop()

with errors.shown():  # a wrong ACCORD_DATABASE_URL (or ACCORD_READ_DATABASE_URL) is one message
    loaders.engine()
    loaders.reader()
    loaders.bootstrap()
    loaders.as_of_reuse()  # so is a wrong ACCORD_AS_OF_REUSE_MINUTES

url = settings.database_url()
navigation = st.navigation(navigation_pages.pages_for(user.role))
filters.remember(filters.sidebar(url))
auth.account_sidebar(user)
banner.freshness_banner(url)
with errors.shown():  # an error the user can fix that the page leaves unhandled: one message
    navigation.run()
