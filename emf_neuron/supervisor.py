"""The supervised mode of the loop: run the monitor child and carry out the watchdog's decisions.

Each pass: note a stop request, detect the child's exit (by ``waitid``, never by EOF), ask the
pure ``watchdog`` what to do, do it, publish when due, then sleep in ``select`` until the nearest
deadline or until a pipe or signal wakes us. State changes are logged once, never per report.
"""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Sequence

from emf_neuron import errors
from emf_neuron.child import ChildProcess, is_missing_program
from emf_neuron.config import Settings
from emf_neuron.interval import Health
from emf_neuron.pipeline import Pipeline
from emf_neuron.relay import StderrRelay
from emf_neuron.sidecar import MAX_SLEEP_SECONDS, Clocks, Sidecar, Sink
from emf_neuron.watchdog import Action, Decision, State, Watchdog

logger = logging.getLogger(__name__)
HALT_REAP_SECONDS = 0.5  # on a halt, how long a SIGKILLed child may take to die and be reaped


class Supervisor(Sidecar):
    """Supervise the monitor command and publish its reports until a stop signal."""

    def __init__(
        self,
        pipeline: Pipeline,
        sink: Sink,
        settings: Settings,
        argv: Sequence[str],
        clocks: Clocks,
    ) -> None:
        super().__init__(pipeline, sink, settings, clocks)
        self._argv = tuple(argv)
        self._child: ChildProcess | None = None
        self._relay = StderrRelay(self._clock)  # one for all runs: the rate limit spans restarts
        self._watchdog = Watchdog(self._policy, self._clock())
        self._spawn_error: str | None = None

    def run_child(self) -> int:
        """Supervise the monitor until stopped; returns the process exit code.

        Raises:
            HaltError: stdout closed (EX_IOERR) or the child could not be killed (EX_TEMPFAIL).
        """
        with self._signals:
            self._selector.register(self._signals.fd, selectors.EVENT_READ)
            try:
                self._loop()
            except errors.HaltError:
                self._kill_child_on_halt()
                self._final_publish()
                if not self._sink.failed:  # a closed stdout is reported once, by the caller
                    self._finish()
                raise
            self._final_publish()
            return self._finish()  # handlers still ours: a second signal cannot cut the flush

    def _kill_child_on_halt(self) -> None:
        """SIGKILL the group; reap the leader if it dies within a moment (an unkillable one is
        left behind: waiting for it is what the halt avoids)."""
        child = self._child
        if child is None:
            return
        child.kill()
        deadline = self._clock() + HALT_REAP_SECONDS
        while not child.exited() and self._clock() < deadline:
            time.sleep(0.01)
        if child.exited():
            child.reap()
            self._child = None

    def _loop(self) -> None:
        while True:
            now = self._clock()
            if self._on_signal(now):
                self._watchdog.on_shutdown(now)
            self._check_exit(now)
            decision = self._watchdog.tick(now)
            self._perform(decision, now)
            if self._watchdog.state is State.STOPPED:
                return
            if now >= self._next_publish:
                self._publish(now, self._supervised_health(now))
            self._check_sink()
            due = decision.wake_at if decision.wake_at is not None else now + MAX_SLEEP_SECONDS
            wake = min(due, self._next_publish)
            self._wait(min(wake - now, MAX_SLEEP_SECONDS))

    def _supervised_health(self, now: float) -> Health:
        restarts = self._watchdog.restarts - self._restarts_published
        self._restarts_published = self._watchdog.restarts
        return self._health(now, self._watchdog.up, restarts)

    def _final_publish(self) -> None:
        now = self._clock()
        self._pipeline.end_of_stream()
        if not self._sink.failed:
            self._publish(now, self._supervised_health(now))

    # -- decisions -----------------------------------------------------------------------------

    def _perform(self, decision: Decision, now: float) -> None:
        if decision.action is Action.SPAWN:
            self._spawn(now)
        elif decision.action is Action.TERMINATE and self._child is not None:
            level = logging.INFO if self._stop_deadline is not None else logging.WARNING
            logger.log(
                level, "stopping neuron-monitor (pid %d): %s", self._child.pid, decision.reason
            )
            self._child.terminate()
        elif decision.action is Action.KILL and self._child is not None:
            logger.warning("neuron-monitor (pid %d) ignored SIGTERM: killing it", self._child.pid)
            self._child.kill()
        elif decision.action is Action.ESCALATE:
            logger.error("neuron-monitor cannot be killed: %s; exiting", decision.reason)
            raise errors.HaltError(decision.reason, errors.EXIT_TEMPFAIL)

    def _spawn(self, now: float) -> None:
        try:
            child = ChildProcess.spawn(self._argv)
        except OSError as exc:
            self._spawn_failed(now, exc)
            return
        if self._spawn_error is not None:
            logger.info("neuron-monitor could be started again")
            self._spawn_error = None
        self._child = child
        for fd in (child.stdout_fd, child.stderr_fd):
            if fd is not None:
                self._selector.register(fd, selectors.EVENT_READ)
        self._watchdog.on_spawned(now)
        logger.info("started neuron-monitor (pid %d): %s", child.pid, " ".join(self._argv))

    def _spawn_failed(self, now: float, exc: OSError) -> None:
        self._watchdog.on_spawn_failed(now, str(exc))
        message = f"cannot start {self._argv[0]}: {exc.strerror or exc}"
        if message != self._spawn_error:  # once per state change, not per attempt
            hint = " (check --monitor-command)" if is_missing_program(exc) else ""
            logger.error("%s%s; retrying with backoff, forever", message, hint)
            self._spawn_error = message
        self._last_exit = message

    # -- the child's pipes and exit ------------------------------------------------------------

    def _wait(self, timeout: float) -> None:
        for key, _ in self._selector.select(max(0.0, timeout)):
            if key.fd == self._signals.fd:
                self._signals.drain()  # the loop looks at the stop flag and the child next
            elif self._child is not None:
                self._read(key.fd)

    def _read(self, fd: int) -> None:
        assert self._child is not None  # noqa: S101 - only called while a child is registered
        is_stdout = fd == self._child.stdout_fd
        data = self._child.read(fd)
        if data is None:
            return
        if data == b"":  # EOF; the fd is closed already
            self._selector.unregister(fd)
            if is_stdout:
                self._on_data(self._pipeline.end_of_stream())
            else:
                self._relay.finish()
        elif is_stdout:
            self._on_data(self._pipeline.feed(data))
        else:
            self._relay.feed(data)

    def _on_data(self, valid_reports: int) -> None:
        if not valid_reports:
            return
        now = self._clock()
        was_up = self._watchdog.up
        self._watchdog.on_valid_report(now)
        self._last_valid = now
        if not was_up and self._watchdog.up:
            logger.info("neuron-monitor is delivering valid reports")

    def _check_exit(self, now: float) -> None:
        child = self._child
        if child is None or not child.exited():
            return
        child.kill()  # first: a helper left in the group could keep the pipes busy forever
        for fd in (child.stdout_fd, child.stderr_fd):
            if fd is not None:
                self._selector.unregister(fd)
                data = child.drain(fd)  # the last lines written before exit still count
                if fd == child.stdout_fd:
                    self._on_data(self._pipeline.feed(data))
                else:
                    self._relay.feed(data)
        self._on_data(self._pipeline.end_of_stream())
        self._relay.finish()
        status = child.reap()
        self._child = None
        self._last_exit = status.describe()
        self._watchdog.on_exit(now)
        if self._watchdog.restart_at is not None and self._watchdog.state is State.BACKOFF:
            logger.warning(
                "neuron-monitor (pid %d) %s; restarting in %.1f s",
                child.pid,
                self._last_exit,
                self._watchdog.restart_at - now,
            )
        else:
            logger.info("neuron-monitor (pid %d) %s", child.pid, self._last_exit)
