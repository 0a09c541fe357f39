"""Errors on the pages: an :class:`errors.AccordError` becomes one ``st.error``, here and nowhere else.

``app.py`` runs the start-up and the selected page inside :func:`shown`, so an
error the user can fix that no page handles still reads as one message; a
page that wants to go on after one (a form that keeps its input) calls
:func:`show`. Anything that is not an ``AccordError`` is a bug and is left to
propagate: Streamlit shows it as an exception, and the page tests fail on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from analytics.wording import literal
from errors import AccordError


def show(error: AccordError) -> None:
    """Draw ``error`` as one red message, on one line; it may quote a file's or a CRM's values, so it is
    escaped (analytics.wording.literal) and never read as Markdown."""
    st.error(literal(error.one_line()))


@contextmanager
def shown() -> Iterator[None]:
    """Run the block; an ``AccordError`` raised in it is shown with :func:`show` and the script stops there."""
    try:
        yield
    except AccordError as exc:
        show(exc)
        st.stop()
