"""The single writer of stdout: every EMF line goes out here, and nothing else writes to fd 1.

Lines are queued and written by one thread with ``os.write`` (one line per call sequence, never
interleaved), so a slow log driver blocks that thread, not the loop that drains the child and runs
the watchdog. The queue is bounded in bytes; when it is full the oldest line is dropped and
counted. EPIPE is fatal and reported through ``SinkClosedError`` on the next ``write``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from emf_neuron.errors import SinkClosedError

DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024


class StdoutSink:
    """Queue lines for a writer thread; ``dropped`` counts lines lost to a full queue."""

    def __init__(self, fd: int = 1, max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES) -> None:
        self._fd = fd
        self._max = max_queued_bytes
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._in_flight = False
        self._closing = False
        self._cond = threading.Condition()
        self.error: OSError | None = None
        self.dropped = 0
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="emf-neuron-stdout", daemon=True)
        self._thread.start()

    def write(self, line: bytes) -> None:
        """Queue one document (without newline).

        Raises:
            SinkClosedError: stdout failed earlier (EPIPE or another OS error).
        """
        data = line + b"\n"
        with self._cond:
            if self.error is not None:
                raise SinkClosedError(f"stdout is closed: {self.error.strerror or self.error}")
            self._queue.append(data)
            self._queued_bytes += len(data)
            while self._queued_bytes > self._max and len(self._queue) > 1:
                self._queued_bytes -= len(self._queue.popleft())
                self.dropped += 1
            self._cond.notify()

    @property
    def failed(self) -> bool:
        """True once stdout has failed; the loop checks this on every tick."""
        return self.error is not None

    def flush(self, timeout_seconds: float) -> bool:
        """Wait until every queued line is written; False if the deadline passed first."""
        deadline = time.monotonic() + timeout_seconds
        with self._cond:
            while (self._queue or self._in_flight) and self.error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return self.error is None

    def close(self, timeout_seconds: float) -> int:
        """Flush within the deadline and stop the writer; returns the lines left unwritten."""
        self.flush(timeout_seconds)
        with self._cond:
            self._closing = True
            unwritten = len(self._queue) + (1 if self._in_flight else 0)
            self._cond.notify_all()
        return unwritten

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                data = self._queue.popleft()
                self._queued_bytes -= len(data)
                self._in_flight = True
            try:
                _write_all(self._fd, data)
            except OSError as exc:
                with self._cond:
                    self.error = exc
                    self._in_flight = False
                    self._cond.notify_all()
                return
            with self._cond:
                self._in_flight = False
                self.written += 1
                self._cond.notify_all()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
