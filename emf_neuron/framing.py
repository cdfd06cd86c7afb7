"""Reassemble newline-delimited lines from arbitrary byte chunks; pure, no I/O.

A pipe is a byte stream with no message boundaries, so a report may arrive in many reads and a
read may hold many reports. The buffer is bounded: a line longer than ``max_line_bytes`` is
discarded up to its newline and counted, so a runaway child cannot grow our memory.
"""

from __future__ import annotations

DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024


class LineSplitter:
    """Feed it chunks, get back complete lines (without the newline)."""

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._buffer = bytearray()
        self._discarding = False
        self.oversize_lines = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the lines that ``chunk`` completes, in order; empty lines are skipped."""
        lines: list[bytes] = []
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            self._take(chunk[start:end], lines)
            start = end + 1
        self._keep(chunk[start:])
        return lines

    def finish(self) -> list[bytes]:
        """End of stream: an unterminated last line still counts as a line; the state resets."""
        lines: list[bytes] = []
        if self._buffer and not self._discarding:
            self._append(bytes(self._buffer), lines)
        self._buffer.clear()
        self._discarding = False
        return lines

    @property
    def buffered_bytes(self) -> int:
        """Bytes of the line in progress that are held in memory."""
        return len(self._buffer)

    def _take(self, tail: bytes, lines: list[bytes]) -> None:
        if self._discarding:
            self._discarding = False
            self._buffer.clear()
            return
        if len(self._buffer) + len(tail) > self._max:
            self.oversize_lines += 1
            self._buffer.clear()
            return
        if self._buffer:
            self._buffer += tail
            line = bytes(self._buffer)
            self._buffer.clear()
        else:
            line = tail
        self._append(line, lines)

    def _keep(self, rest: bytes) -> None:
        if self._discarding or not rest:
            return
        if len(self._buffer) + len(rest) > self._max:
            self.oversize_lines += 1
            self._discarding = True
            self._buffer.clear()
            return
        self._buffer += rest

    @staticmethod
    def _append(line: bytes, lines: list[bytes]) -> None:
        if line.strip():
            lines.append(line)
