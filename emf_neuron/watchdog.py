"""Restart and hang-detection policy for the neuron-monitor child, as pure decisions.

Owns the child's life-cycle state machine (start-up grace, hang deadline on the last valid
report, TERM -> KILL -> escalate, capped jittered backoff). Does no I/O: it never spawns,
signals, sleeps, reads a clock or logs. The caller passes `now` (a `time.monotonic()` value)
and events in, performs the returned `Decision` and logs it.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

# 2.0 ** 1024 raises OverflowError; long before this exponent the base is the cap anyway.
_MAX_EXPONENT = 1023


class Action(enum.Enum):
    """What the caller must do now."""

    NONE = "none"  # nothing to do now; call tick() again at wake_at at the latest
    SPAWN = "spawn"  # start the child now; then call on_spawned() or on_spawn_failed()
    TERMINATE = "terminate"  # send SIGTERM + SIGCONT to the child's process group (once)
    KILL = "kill"  # send SIGKILL to the child's process group (once)
    ESCALATE = "escalate"  # child not reaped after KILL + kill grace: exit non-zero


class State(enum.Enum):
    """Where the child is in its life cycle."""

    BACKOFF = "backoff"  # no child; waiting until restart_at (initially: now)
    STARTING = "starting"  # child spawned, no valid report yet (start-up grace deadline)
    RUNNING = "running"  # child has produced valid reports (hang deadline on the last one)
    STOPPING = "stopping"  # TERM sent (hang or shutdown); waiting up to stop grace
    KILLING = "killing"  # KILL sent; waiting up to kill grace
    STOPPED = "stopped"  # shutdown requested and no child remains: the loop ends


_LIVE = frozenset({State.STARTING, State.RUNNING, State.STOPPING, State.KILLING})


def _check_backoff(floor_seconds: float, cap_seconds: float) -> None:
    # A zero, negative or NaN floor would let a crash-looping child make us spin.
    if not (math.isfinite(floor_seconds) and floor_seconds > 0):
        raise ValueError(f"backoff floor must be finite and > 0, got {floor_seconds!r}")
    if not (math.isfinite(cap_seconds) and cap_seconds >= floor_seconds):
        raise ValueError(f"backoff cap must be finite and >= the floor, got {cap_seconds!r}")


@dataclass(frozen=True, slots=True)
class Policy:
    """The watchdog's timers, in seconds (validated by the configuration, not here)."""

    period_seconds: float  # neuron-monitor report period
    hang_timeout_seconds: float  # max time since the last VALID report while RUNNING
    startup_grace_seconds: float  # max time from spawn to the first valid report
    stop_grace_seconds: float = 5.0  # TERM -> KILL
    kill_grace_seconds: float = 5.0  # KILL -> escalate
    backoff_floor_seconds: float = 1.0
    backoff_cap_seconds: float = 60.0
    stable_periods: int = 10  # backoff resets after this many periods of valid reports


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do now, and when to call tick() again at the latest (None: no timer needed).

    wake_at is `now` after SPAWN (report the outcome, then tick), the new grace deadline after
    TERMINATE and KILL, and None after ESCALATE and in STOPPED.
    """

    action: Action
    wake_at: float | None
    reason: str = ""


class Backoff:
    """Capped exponential restart delay with "equal jitter", never below the floor.

    The n-th delay since the last reset (n = 1, 2, ...) is::

        base = min(cap, floor * 2**n)
        delay = min(cap, max(floor, base / 2 + rng() * base / 2))

    With rng() in [0, 1) the first retry is in [floor, 2 * floor) and the n-th in
    [floor * 2**(n-1), floor * 2**n) until the cap is reached, then in [max(floor, cap / 2), cap).
    The clamp matters only when cap < 2 * floor, or if rng() breaks its contract. (Float
    rounding can reach an upper bound exactly when rng() is within 2**-53 of 1.)

    Raises:
        ValueError: from the constructor if floor is not finite and > 0, or cap < floor.
    """

    def __init__(self, floor_seconds: float, cap_seconds: float, rng: Callable[[], float]) -> None:
        _check_backoff(floor_seconds, cap_seconds)
        self._floor = floor_seconds
        self._cap = cap_seconds
        self._rng = rng
        self._failures = 0

    @property
    def failures(self) -> int:
        """Delays handed out since the last reset."""
        return self._failures

    def next_delay(self) -> float:
        """Count one more failure and return the delay before the next attempt."""
        self._failures += 1
        exponent = min(self._failures, _MAX_EXPONENT)
        base = min(self._cap, self._floor * 2.0**exponent)
        delay = base / 2 + self._rng() * base / 2
        # max() first: a NaN from a broken rng then falls back to the floor.
        return min(self._cap, max(self._floor, delay))

    def reset(self) -> None:
        """Forget the failures: the next delay is in [floor, 2 * floor) again."""
        self._failures = 0


class Watchdog:
    """The state machine of one supervised child; see `State` and `tick()`.

    Each state has one deadline: the restart time (BACKOFF), spawn + start-up grace
    (STARTING), last valid report + hang timeout (RUNNING), TERM + stop grace (STOPPING) and
    KILL + kill grace (KILLING). Events that do not apply to the current state are ignored, so
    a late report drained from a reaped child never revives it and never starts a second one.

    Raises:
        ValueError: from the constructor if the policy's backoff floor or cap is invalid.
    """

    def __init__(
        self, policy: Policy, now: float, rng: Callable[[], float] = random.random
    ) -> None:
        self._policy = policy
        self._backoff = Backoff(policy.backoff_floor_seconds, policy.backoff_cap_seconds, rng)
        self._state = State.BACKOFF
        self._deadline = now  # spawn at once on the first tick
        self._last_valid_at: float | None = None
        self._stable_at: float | None = None  # this run's backoff reset time; None once done
        self._shutdown = False
        self._restarts = 0
        self._hangs = 0

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def restarts(self) -> int:
        """Restarts scheduled after a child exit or a spawn failure, since construction."""
        return self._restarts

    @property
    def hangs(self) -> int:
        """Children terminated for missing the start-up grace or the hang timeout."""
        return self._hangs

    @property
    def last_valid_report_at(self) -> float | None:
        """When the last valid report arrived from any run (None: never)."""
        return self._last_valid_at

    @property
    def restart_at(self) -> float | None:
        """When the next spawn is due; None outside BACKOFF."""
        return self._deadline if self._state is State.BACKOFF else None

    @property
    def up(self) -> bool:
        """True only while the child is RUNNING (producing valid reports)."""
        return self._state is State.RUNNING

    def on_spawned(self, now: float) -> None:
        """BACKOFF -> STARTING. After shutdown (STOPPED) too, so the next tick stops the child."""
        if self._state in (State.BACKOFF, State.STOPPED):
            self._enter(State.STARTING, now + self._policy.startup_grace_seconds)

    def on_spawn_failed(self, now: float, reason: str) -> None:
        """Stay in BACKOFF with the next backoff delay; counts as a restart.

        `reason` is not kept: the caller logs it. After shutdown this is a no-op.
        """
        if self._state is State.BACKOFF:
            self._schedule_restart(now)

    def on_valid_report(self, now: float) -> None:
        """STARTING -> RUNNING; push the hang deadline; reset the backoff once stable."""
        if self._state is State.STARTING:
            self._state = State.RUNNING
            policy = self._policy
            self._stable_at = now + policy.stable_periods * policy.period_seconds
        elif self._state is not State.RUNNING:
            return  # a child being stopped or already reaped is never revived
        self._last_valid_at = now
        self._deadline = now + self._policy.hang_timeout_seconds
        if self._stable_at is not None and now >= self._stable_at:
            self._backoff.reset()
            self._stable_at = None

    def on_exit(self, now: float) -> None:
        """Child reaped: -> BACKOFF (counts a restart), or -> STOPPED after shutdown."""
        if self._state not in _LIVE:
            return
        if self._shutdown:
            self._state = State.STOPPED
        else:
            self._schedule_restart(now)

    def on_shutdown(self, now: float) -> None:
        """No restart after this (idempotent). No child: -> STOPPED; else the next tick stops it."""
        self._shutdown = True
        if self._state is State.BACKOFF:
            self._state = State.STOPPED

    def tick(self, now: float) -> Decision:
        """Return what to do at `now`; the state already reflects the action taken."""
        if self._state is State.STOPPED:
            return Decision(Action.NONE, None)
        if self._shutdown and self._state in (State.STARTING, State.RUNNING):
            return self._terminate(now, "shutdown requested")
        if now < self._deadline:
            return Decision(Action.NONE, self._deadline)
        return self._on_deadline(now)

    def _on_deadline(self, now: float) -> Decision:
        policy = self._policy
        match self._state:
            case State.BACKOFF:
                reason = f"restart #{self._restarts} due" if self._restarts else "first start"
                return Decision(Action.SPAWN, now, reason)
            case State.STARTING:
                self._hangs += 1
                grace = policy.startup_grace_seconds
                return self._terminate(now, f"no valid report within start-up grace {grace:.1f} s")
            case State.RUNNING:
                self._hangs += 1
                silent = now - (self._deadline - policy.hang_timeout_seconds)
                timeout = policy.hang_timeout_seconds
                reason = f"no valid report for {silent:.1f} s (hang timeout {timeout:.1f} s)"
                return self._terminate(now, reason)
            case State.STOPPING:
                waited = now - (self._deadline - policy.stop_grace_seconds)
                self._enter(State.KILLING, now + policy.kill_grace_seconds)
                reason = f"child still running {waited:.1f} s after SIGTERM"
                return Decision(Action.KILL, self._deadline, reason)
            case _:  # KILLING: stay there; the caller exits non-zero so ECS replaces us
                waited = now - (self._deadline - policy.kill_grace_seconds)
                reason = f"child could not be killed: not reaped {waited:.1f} s after SIGKILL"
                return Decision(Action.ESCALATE, None, reason)

    def _terminate(self, now: float, reason: str) -> Decision:
        self._enter(State.STOPPING, now + self._policy.stop_grace_seconds)
        return Decision(Action.TERMINATE, self._deadline, reason)

    def _schedule_restart(self, now: float) -> None:
        self._restarts += 1
        self._enter(State.BACKOFF, now + self._backoff.next_delay())

    def _enter(self, state: State, deadline: float) -> None:
        self._state = state
        self._deadline = deadline
