"""Turn SIGTERM, SIGINT and SIGCHLD into readable bytes on a self-pipe the loop selects on.

A flag alone does not wake a blocked read (PEP 475 retries it), so the handlers here only record
the stop request and Python's ``set_wakeup_fd`` writes the signal number to the pipe. Nothing in a
handler logs or writes to stdout (that can deadlock on the buffered writer's lock).
"""

from __future__ import annotations

import contextlib
import os
import signal
from types import FrameType, TracebackType
from typing import Self

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class SignalWakeup:
    """Context manager: installs the handlers and the wakeup pipe, restores both on exit."""

    def __init__(self) -> None:
        self.fd = -1
        self._write_fd = -1
        self.stop_signal: int | None = None
        self._previous: dict[int, object] = {}
        self._previous_wakeup = -1

    def __enter__(self) -> Self:
        self.fd, self._write_fd = os.pipe()
        for fd in (self.fd, self._write_fd):
            os.set_blocking(fd, False)
        self._previous_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_stop)
        self._previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _ignore)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._previous_wakeup)
        for fd in (self.fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def drain(self) -> None:
        """Empty the pipe (the bytes only serve to wake the selector)."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 4096):
                pass

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum


def _ignore(signum: int, frame: FrameType | None) -> None:
    """SIGCHLD needs a Python handler for the wakeup byte to be written; the loop does the rest."""
