"""Re-log the monitor's stderr as escaped, length-capped, rate-limited diagnostic lines.

The child's bytes never reach our stdout or stderr raw: each line becomes the message of one of
our JSON log records, so a hostile or buggy child cannot forge an EMF document or break a line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from emf_neuron.framing import LineSplitter

logger = logging.getLogger("emf_neuron.monitor")
MAX_LINE_CHARS = 500
WINDOW_SECONDS = 60.0


class StderrRelay:
    """At most ``lines_per_window`` lines per minute; the rest are counted and summarised.

    The first suppressed line of a minute logs one notice, so the limit is visible at once.
    """

    def __init__(self, clock: Callable[[], float], lines_per_window: int = 20) -> None:
        self._clock = clock
        self._limit = lines_per_window
        self._splitter = LineSplitter(max_line_bytes=64 * 1024)
        self._window_start = clock()
        self._in_window = 0
        self.suppressed = 0

    def feed(self, chunk: bytes) -> None:
        """Log the complete lines in ``chunk`` (within the rate limit)."""
        for line in self._splitter.feed(chunk):
            self._emit(line)

    def finish(self) -> None:
        """The stream ended: log the unterminated last line, if any."""
        for line in self._splitter.finish():
            self._emit(line)

    def _emit(self, line: bytes) -> None:
        now = self._clock()
        if now - self._window_start >= WINDOW_SECONDS:
            if self.suppressed:
                logger.warning("suppressed %d more stderr lines of the monitor", self.suppressed)
            self._window_start, self._in_window, self.suppressed = now, 0, 0
        if self._in_window >= self._limit:
            if not self.suppressed:
                logger.warning(
                    "monitor stderr is over %d lines a minute: suppressing the rest", self._limit
                )
            self.suppressed += 1
            return
        self._in_window += 1
        text = line.decode("utf-8", errors="replace").strip()
        if len(text) > MAX_LINE_CHARS:
            text = text[:MAX_LINE_CHARS] + "..."
        logger.warning("monitor stderr: %s", text)
