"""The loop's shared half: publish on a timer, health, clean stop; and the ``--input -`` mode.

``Sidecar`` owns the selector, the signal wakeup pipe, the publish timer and the final flush.
``supervisor.Supervisor`` extends it with the monitor child and the watchdog. Timers use the
monotonic clock; the wall clock only stamps documents.
"""

from __future__ import annotations

import logging
import os
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from emf_neuron import errors
from emf_neuron.config import Settings
from emf_neuron.interval import Health
from emf_neuron.pipeline import Pipeline
from emf_neuron.signals import SignalWakeup
from emf_neuron.watchdog import Policy

logger = logging.getLogger(__name__)
MAX_SLEEP_SECONDS = 1.0  # re-check the child and the sink at least this often


class Sink(Protocol):
    """Where EMF lines go (``sink.StdoutSink``)."""

    dropped: int

    def write(self, line: bytes) -> None:
        """Queue one EMF line."""

    @property
    def failed(self) -> bool:
        """True once the destination is gone."""

    def close(self, timeout_seconds: float) -> int:
        """Flush and stop; returns the lines left unwritten."""


@dataclass(frozen=True, slots=True)
class Clocks:
    """Injected time sources: monotonic for every timer, wall only for document timestamps."""

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time


def policy_for(settings: Settings) -> Policy:
    """The watchdog policy; the stop budget is split TERM grace / KILL grace / final flush."""
    grace = min(5.0, settings.stop_timeout_seconds * 0.3)
    return Policy(
        period_seconds=settings.period_seconds,
        hang_timeout_seconds=settings.hang_timeout,
        startup_grace_seconds=settings.startup_grace,
        stop_grace_seconds=grace,
        kill_grace_seconds=grace,
        backoff_floor_seconds=settings.backoff_floor_seconds,
        backoff_cap_seconds=settings.backoff_cap_seconds,
    )


class Sidecar:
    """Read reports from stdin and publish them until EOF or a stop signal."""

    def __init__(self, pipeline: Pipeline, sink: Sink, settings: Settings, clocks: Clocks) -> None:
        self._pipeline = pipeline
        self._sink = sink
        self._policy = policy_for(settings)
        self._interval = settings.publish_interval_seconds
        self._stop_timeout = settings.stop_timeout_seconds
        self._clock = clocks.monotonic
        self._wall_clock = clocks.wall
        self._started_at = self._clock()
        self._next_publish = self._started_at + self._interval
        self._selector: selectors.BaseSelector = selectors.DefaultSelector()
        self._signals = SignalWakeup()
        self._stop_deadline: float | None = None
        self._last_valid: float | None = None
        self._restarts_published = 0
        self._last_exit: str | None = None
        self._dropped_logged = 0

    # -- shared by both modes ------------------------------------------------------------------

    def _publish(self, now: float, health: Health) -> None:
        documents = self._pipeline.documents(health)
        lines = self._pipeline.render(documents, int(self._wall_clock() * 1000))
        try:
            for line in lines:
                self._sink.write(line)
        except errors.SinkClosedError as exc:  # failed since the last _check_sink
            raise errors.HaltError(str(exc), errors.EXIT_IOERR) from None
        if self._sink.dropped > self._dropped_logged:
            logger.warning(
                "the sink (stdout or the agent) is slower than our output: %d lines dropped so far",
                self._sink.dropped,
            )
            self._dropped_logged = self._sink.dropped
        while self._next_publish <= now:
            self._next_publish += self._interval

    def _health(self, now: float, up: bool, restarts: int) -> Health:
        since = self._last_valid if self._last_valid is not None else self._started_at
        return Health(
            up=up,
            restarts=restarts,
            report_age_seconds=max(0.0, now - since),
            report_errors=self._pipeline.take_report_errors(),
            last_exit=self._last_exit,
            output_dropped=self._sink.dropped,
        )

    def _check_sink(self) -> None:
        if self._sink.failed:
            raise errors.HaltError(
                "stdout is closed; no metrics can be delivered", errors.EXIT_IOERR
            )

    def _finish(self) -> int:
        """Write everything sampled so far and stop the writer within the stop budget."""
        budget = self._stop_timeout / 3
        if self._stop_deadline is not None:
            budget = max(0.5, self._stop_deadline - self._clock())
        unwritten = self._sink.close(budget)
        if self._sink.failed:
            logger.error("stdout is closed; the last documents were not delivered")
            return errors.EXIT_IOERR
        if unwritten:
            logger.error("sink blocked: %d documents were not written before exit", unwritten)
        return errors.EXIT_OK

    def _on_signal(self, now: float) -> bool:
        """True on the first observation of a stop request."""
        self._signals.drain()
        if self._signals.stop_signal is None or self._stop_deadline is not None:
            return False
        self._stop_deadline = now + self._stop_timeout
        logger.info("received signal %d: stopping", self._signals.stop_signal)
        return True

    # -- stdin mode ----------------------------------------------------------------------------

    def run(self, fd: int = 0) -> int:
        """Read reports from ``fd`` until EOF or a stop signal; no child, no watchdog."""
        self._selector.close()
        self._selector = selectors.PollSelector()  # epoll refuses regular files and /dev/null
        with self._signals:
            self._selector.register(self._signals.fd, selectors.EVENT_READ)
            self._selector.register(fd, selectors.EVENT_READ)
            open_ = True
            while open_ and self._stop_deadline is None:
                now = self._clock()
                if now >= self._next_publish:
                    self._publish(now, self._stdin_health(now))
                self._check_sink()
                open_ = self._wait_stdin(fd, min(self._next_publish - now, MAX_SLEEP_SECONDS))
            now = self._clock()
            self._pipeline.end_of_stream()
            self._publish(now, self._stdin_health(now))
            return self._finish()  # handlers still ours: a second signal cannot cut the flush

    def _stdin_health(self, now: float) -> Health:
        """Without a watchdog, "up" means a valid report within the hang timeout."""
        last = self._last_valid
        up = last is not None and now - last < self._policy.hang_timeout_seconds
        return self._health(now, up, 0)

    def _wait_stdin(self, fd: int, timeout: float) -> bool:
        for key, _ in self._selector.select(max(0.0, timeout)):
            now = self._clock()
            if key.fd == self._signals.fd:
                self._on_signal(now)
                continue
            data = _read(fd)
            if data == b"":
                return False
            if data and self._pipeline.feed(data):
                self._last_valid = now
        return True


def _read(fd: int) -> bytes | None:
    try:
        return os.read(fd, 256 * 1024)
    except BlockingIOError:
        return None
