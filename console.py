"""What the command line draws on the terminal besides its output: the progress bar.

A module of its own so that ``cli.py`` and the command modules it loads
(``connectors/*/command.py``, ``reports/command.py``) share the bar without
importing each other.
"""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """A progress callback that draws one line on stderr: ``stage [#####.....] done/total detail``.

    Connectors and importers call it as ``progress(stage, done, total, detail="")``;
    ``total=None`` draws a counter instead of a bar. Redraws at most 10 times a second.
    """

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self._last_draw = 0.0
        self._last_stage = None

    def __call__(self, stage: str, done: int, total: int | None = None, detail: str = "") -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if stage == self._last_stage and not finished and now - self._last_draw < 0.1:
            return
        if self._last_stage is not None and stage != self._last_stage:
            self.stream.write("\n")
        self._last_stage, self._last_draw = stage, now
        if total:
            filled = int(self.width * min(done, total) / total)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"{stage:<14} [{bar}] {done:,}/{total:,}"
        else:
            line = f"{stage:<14} {done:,}"
        self.stream.write("\r" + (f"{line} {detail}" if detail else line)[:120].ljust(60))
        self.stream.flush()

    def close(self) -> None:
        if self._last_stage is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._last_stage = None
