"""The one base of every error a user can fix: :class:`AccordError`.

A bad file, a wrong token, an unknown metric in an agreement, a database that
cannot be reached: each is a subclass whose message says what is wrong and
where. They are turned into words in two places only: ``cli.py``'s ``main``
(one line on stderr, the exit code of the class) and
``pages/components/errors.py`` (one ``st.error``). Anything else raised is a
bug: it is never shown as something the user should fix; it propagates (a
traceback on the command line, Streamlit's exception box, a failing test).

A shared leaf: it imports nothing of Accord's, so every layer, ``analytics``
included, may import it (the import contracts in ``pyproject.toml`` say so).
"""

from __future__ import annotations


class AccordError(Exception):
    """Something the user can fix; ``str()`` is the message to show.

    ``exit_code`` is what ``cli.py`` exits with (1 unless a subclass says
    otherwise: 2 for configuration and input the command cannot start from,
    75 for "busy, try again later").

    >>> AccordError("leads.csv, line 4: 'yesterday' is not a date").one_line()
    "leads.csv, line 4: 'yesterday' is not a date"
    >>> AccordError("2 problems in the agreement:\\n- period: unknown\\n- parties: missing").one_line()
    '2 problems in the agreement: period: unknown; parties: missing'
    """

    exit_code: int = 1

    def one_line(self) -> str:
        """The message on one line: a heading ending in ":" then its items (bullets dropped), joined by "; "."""
        lines = [line.strip().removeprefix("- ") for line in str(self).splitlines() if line.strip()]
        if not lines:
            return type(self).__name__
        if len(lines) > 1 and lines[0].endswith(":"):
            return f"{lines[0]} {'; '.join(lines[1:])}"
        return "; ".join(lines)
