"""Sign in: the only page of Accord before someone signs in (when ``[auth]`` is configured).

Also the page of a signed-in person whose account has no role: it says so and
offers "Sign out" (to try another account).
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAuthError

from pages.components import auth

user = auth.current_user()
st.title("Accord")
st.caption("The service level agreement between marketing and sales, held against the CRM.")

if user.signed_in:
    st.warning(
        f"You are signed in as **{auth.plain(user.email or user.name)}**, but this account has no role in Accord. "
        "Ask whoever runs Accord to add your e-mail address (or your group) to the roles in its "
        "configuration, then sign in again.",
        icon=":material/lock:",
    )
    if st.button("Sign out", key="sign_out_no_role", icon=":material/logout:"):
        auth.sign_out()
else:
    st.write("Sign in with your company account to see where marketing and sales stand.")
    for provider in auth.sign_in_providers():
        label = "Sign in" if provider is None else f"Sign in with {provider.capitalize()}"
        if st.button(label, key=f"sign_in_{provider or 'default'}", type="primary", icon=":material/login:"):
            try:
                st.login(provider)
            except StreamlitAuthError as exc:
                st.error(f"Sign-in is not configured correctly in .streamlit/secrets.toml: {exc}")
