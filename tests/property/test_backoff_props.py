"""Properties of the restart backoff, and of the watchdog under any sequence of events."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import example, given
from hypothesis import strategies as st

from emf_neuron.watchdog import Action, Backoff, Decision, Policy, State, Watchdog

jitters = st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=40)


@st.composite
def floor_and_cap(draw: st.DrawFn) -> tuple[float, float]:
    floor = draw(st.floats(0.01, 10.0))
    cap = draw(st.one_of(st.just(floor), st.floats(floor, floor * 1000.0)))
    return floor, cap


def replay(values: list[float]) -> Callable[[], float]:
    """An rng that returns `values` in order, forever."""
    cycle = itertools.cycle(values)
    return lambda: next(cycle)


@given(floor_and_cap(), jitters)
def test_every_delay_is_within_floor_and_cap_and_doubles(
    bounds: tuple[float, float], values: list[float]
) -> None:
    floor, cap = bounds
    backoff = Backoff(floor, cap, replay(values))
    for n in range(1, len(values) + 1):
        delay = backoff.next_delay()
        assert floor <= delay <= cap
        # The n-th delay is in [floor * 2**(n-1), floor * 2**n], halved at the cap, clipped.
        assert delay >= max(floor, min(cap, floor * 2.0**n) / 2)
        assert delay <= max(floor, min(cap, floor * 2.0**n))
    assert backoff.failures == len(values)


@given(floor_and_cap(), jitters, st.integers(0, 60))
@example((3.0, 60.0), [math.nextafter(1.0, 0.0)], 4)  # rounds up to exactly 2 * floor
def test_reset_brings_the_next_delay_back_under_twice_the_floor(
    bounds: tuple[float, float], values: list[float], failures: int
) -> None:
    floor, cap = bounds
    backoff = Backoff(floor, cap, replay(values))
    for _ in range(failures):
        backoff.next_delay()
    backoff.reset()
    delay = backoff.next_delay()
    if cap == floor:
        assert delay == floor
    else:
        assert floor <= delay <= 2 * floor  # < in exact arithmetic; see the Backoff docstring


policies = st.builds(
    Policy,
    period_seconds=st.floats(0.1, 10.0),
    hang_timeout_seconds=st.floats(0.1, 100.0),
    startup_grace_seconds=st.floats(0.1, 100.0),
    stop_grace_seconds=st.floats(0.0, 30.0),
    kill_grace_seconds=st.floats(0.0, 30.0),
    backoff_floor_seconds=st.floats(0.01, 10.0),
    backoff_cap_seconds=st.floats(10.0, 300.0),
    stable_periods=st.integers(0, 20),
)
# Weighted so that histories reach the deep states: shutdown is rare, ticks and reports common.
EVENTS = ["tick"] * 4 + ["report"] * 3 + ["spawned"] * 2 + ["exit", "spawn_failed", "shutdown"]
# (event, seconds since the previous event): `now` only moves forward, as monotonic time does.
elapsed = st.one_of(st.floats(0.0, 2.0), st.floats(0.0, 40.0))
histories = st.lists(st.tuples(st.sampled_from(EVENTS), elapsed), max_size=100)


def apply(watchdog: Watchdog, event: str, now: float) -> Decision | None:
    if event == "tick":
        return watchdog.tick(now)
    if event == "spawned":
        watchdog.on_spawned(now)
    elif event == "spawn_failed":
        watchdog.on_spawn_failed(now, "ENOENT")
    elif event == "report":
        watchdog.on_valid_report(now)
    elif event == "exit":
        watchdog.on_exit(now)
    else:
        watchdog.on_shutdown(now)
    return None


BACKOFF, STARTING, RUNNING = State.BACKOFF, State.STARTING, State.RUNNING
STOPPING, KILLING, STOPPED = State.STOPPING, State.KILLING, State.STOPPED
LIVE = (STARTING, RUNNING, STOPPING, KILLING)
# Every state change and the only event that may cause it.
EDGES = {
    (BACKOFF, STARTING): "spawned",
    (STOPPED, STARTING): "spawned",  # a child spawned after shutdown: stopped on the next tick
    (BACKOFF, STOPPED): "shutdown",
    (STARTING, RUNNING): "report",
    (STARTING, STOPPING): "tick",
    (RUNNING, STOPPING): "tick",
    (STOPPING, KILLING): "tick",
    **{(live, BACKOFF): "exit" for live in LIVE},
    **{(live, STOPPED): "exit" for live in LIVE},
}


def check_decision(decision: Decision, watchdog: Watchdog, now: float) -> None:
    """A decision never asks to wake in the past, and only STOPPED sleeps without a timer."""
    assert decision.wake_at is None or decision.wake_at >= now
    if decision.action is Action.NONE:
        assert (decision.wake_at is None) is (watchdog.state is STOPPED)


@dataclass
class StopSequence:
    """Checks that TERM -> KILL -> ESCALATE keep their graces, whatever else happens."""

    policy: Policy
    deadline: float = math.inf

    def observe(self, decision: Decision, state: State, now: float) -> None:
        if decision.action is Action.TERMINATE:
            self.deadline = now + self.policy.stop_grace_seconds
        elif decision.action is Action.KILL:
            assert now >= self.deadline
            self.deadline = now + self.policy.kill_grace_seconds
        elif decision.action is Action.ESCALATE:
            assert now >= self.deadline
        if state in (STOPPING, KILLING) and decision.action is not Action.ESCALATE:
            assert decision.wake_at == self.deadline


def check_restart(
    watchdog: Watchdog, policy: Policy, event: str, before: State, now: float
) -> None:
    """A restart is scheduled only for an exit or a failed spawn, within [floor, cap]."""
    assert (event == "exit" and before in LIVE) or (event, before) == ("spawn_failed", BACKOFF)
    restart_at = watchdog.restart_at
    assert restart_at is not None
    floor, cap = policy.backoff_floor_seconds, policy.backoff_cap_seconds
    assert now + floor <= restart_at <= now + cap


def check_counters(
    watchdog: Watchdog, decision: Decision | None, restarts: int, hangs: int, shut_down: bool
) -> None:
    """Restarts never follow a shutdown; a hang is counted exactly for a non-shutdown TERM."""
    assert watchdog.restarts - restarts in ((0,) if shut_down else (0, 1))
    is_terminate = decision is not None and decision.action is Action.TERMINATE
    assert watchdog.hangs - hangs == (1 if is_terminate and not shut_down else 0)


@given(policies, histories, st.randoms(use_true_random=False))
def test_any_history_keeps_the_watchdog_consistent(
    policy: Policy, history: list[tuple[str, float]], rng: random.Random
) -> None:
    watchdog = Watchdog(policy, now=0.0, rng=rng.random)
    now, shut_down, child, stop_sequence = 0.0, False, False, StopSequence(policy)
    for event, elapsed in history:
        now += elapsed
        before, restarts, hangs = watchdog.state, watchdog.restarts, watchdog.hangs
        decision = apply(watchdog, event, now)
        shut_down = shut_down or event == "shutdown"
        child = (child or event == "spawned") and event != "exit"
        assert watchdog.state is before or EDGES[before, watchdog.state] == event
        assert (watchdog.state in LIVE) is child  # the watchdog never loses track of a child
        assert watchdog.up is (watchdog.state is RUNNING)
        assert (watchdog.restart_at is not None) is (watchdog.state is BACKOFF)
        check_counters(watchdog, decision, restarts, hangs, shut_down)
        if watchdog.restarts > restarts:
            check_restart(watchdog, policy, event, before, now)
        if decision is not None:
            check_decision(decision, watchdog, now)
            stop_sequence.observe(decision, watchdog.state, now)
            assert not (shut_down and decision.action is Action.SPAWN)
    assert shut_down or watchdog.state is not STOPPED  # never gives up by itself


def replay_history(watchdog: Watchdog, history: list[tuple[str, float]]) -> float:
    """Apply `history` from t=0; return the time of its last event."""
    now = 0.0
    for event, seconds in history:
        now += seconds
        apply(watchdog, event, now)
    return now


NEXT_ACTION = {
    State.BACKOFF: Action.SPAWN,
    State.STARTING: Action.TERMINATE,
    State.RUNNING: Action.TERMINATE,
    State.STOPPING: Action.KILL,
    State.KILLING: Action.ESCALATE,
}


@given(policies, histories)
def test_every_state_but_stopped_leads_to_an_action(
    policy: Policy, history: list[tuple[str, float]]
) -> None:
    """No dead end: past every deadline, each state with a (possible) child has a next step."""
    watchdog = Watchdog(policy, now=0.0, rng=lambda: 0.5)
    now = replay_history(watchdog, history)
    state = watchdog.state
    decision = watchdog.tick(now + 1000.0)
    if state is State.STOPPED:
        assert decision == Decision(Action.NONE, None)
    else:
        assert decision.action is NEXT_ACTION[state]


@given(policies, histories)
def test_shutdown_finishes_within_stop_and_kill_grace(
    policy: Policy, history: list[tuple[str, float]]
) -> None:
    """Whatever came before, shutdown stops at once without a child, and otherwise reaches
    ESCALATE within stop_grace + kill_grace even if the child never exits (S7, S8, S10)."""
    watchdog = Watchdog(policy, now=0.0, rng=lambda: 0.5)
    now = replay_history(watchdog, history)
    had_child = watchdog.state in LIVE
    watchdog.on_shutdown(now)
    budget_end = now + policy.stop_grace_seconds + policy.kill_grace_seconds
    decision = watchdog.tick(now)
    for _ in range(3):  # TERMINATE, KILL, ESCALATE at most
        if decision.wake_at is None:
            break
        now = decision.wake_at
        decision = watchdog.tick(now)
    if had_child:
        assert (decision.action, watchdog.state) == (Action.ESCALATE, KILLING)
        assert now <= budget_end
    else:
        assert (decision, watchdog.state) == (Decision(Action.NONE, None), STOPPED)
