"""Table-driven tests of the restart and hang-detection policy, with explicit `now` values."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from emf_neuron.watchdog import Action, Backoff, Decision, Policy, State, Watchdog

# period 5 s, hang timeout 16 s, start-up grace 30 s, stop and kill grace 5 s, backoff 1..60 s,
# stable window 10 periods = 50 s. With rng() == 0.5 the delays are 1.5, 3, 6, 12, 24, 45, 45 ...
POLICY = Policy(period_seconds=5.0, hang_timeout_seconds=16.0, startup_grace_seconds=30.0)

Step = tuple[str, float]

_EVENTS: dict[str, Callable[[Watchdog, float], None]] = {
    "spawned": Watchdog.on_spawned,
    "spawn_failed": lambda watchdog, now: watchdog.on_spawn_failed(now, "ENOENT"),
    "report": Watchdog.on_valid_report,
    "exit": Watchdog.on_exit,
    "shutdown": Watchdog.on_shutdown,
}


def half() -> float:
    return 0.5


def run(steps: Sequence[Step], rng: Callable[[], float] = half) -> tuple[Watchdog, Decision]:
    """Feed `steps` to a fresh watchdog made at t=0; return it and the last tick's decision."""
    watchdog = Watchdog(POLICY, now=0.0, rng=rng)
    decision: Decision | None = None
    for event, now in steps:
        if event == "tick":
            decision = watchdog.tick(now)
        else:
            _EVENTS[event](watchdog, now)
    assert decision is not None, "a case must end with a tick"
    return watchdog, decision


SPAWNED: list[Step] = [("tick", 0.0), ("spawned", 0.0)]
RUNNING_AT_5 = [*SPAWNED, ("report", 5.0)]  # hang deadline 21
HUNG = [*RUNNING_AT_5, ("tick", 21.0)]  # TERM at 21, stop grace until 26
KILLED = [*HUNG, ("tick", 26.0)]  # KILL at 26, kill grace until 31
SHUTDOWN_TERM = [*RUNNING_AT_5, ("shutdown", 6.0), ("tick", 6.0)]  # TERM at 6
SHUTDOWN_KILL = [*SHUTDOWN_TERM, ("tick", 11.0)]  # KILL at 11


Expect = tuple[Action, float | None, State]  # the last tick's action and wake_at; the state


@dataclass(frozen=True)
class Case:
    steps: list[Step]
    expect: Expect
    restarts: int
    hangs: int


def case(
    edge: str, steps: list[Step], expect: Expect, *, restarts: int = 0, hangs: int = 0
) -> object:
    return pytest.param(Case(steps, expect, restarts, hangs), id=edge)


NONE, SPAWN, TERMINATE = Action.NONE, Action.SPAWN, Action.TERMINATE
KILL, ESCALATE = Action.KILL, Action.ESCALATE
BACKOFF, STARTING, RUNNING = State.BACKOFF, State.STARTING, State.RUNNING
STOPPING, KILLING, STOPPED = State.STOPPING, State.KILLING, State.STOPPED

CASES = [
    case("BACKOFF->SPAWN at once on the first tick", [("tick", 0.0)], (SPAWN, 0.0, BACKOFF)),
    case("BACKOFF->STARTING on spawned", [*SPAWNED, ("tick", 1.0)], (NONE, 30.0, STARTING)),
    case(
        "STARTING stays past the hang timeout within start-up grace",
        [*SPAWNED, ("tick", 29.9)],
        (NONE, 30.0, STARTING),
    ),
    case(
        "STARTING->STOPPING on start-up grace",
        [*SPAWNED, ("tick", 30.0)],
        (TERMINATE, 35.0, STOPPING),
        hangs=1,
    ),
    case(
        "STARTING->RUNNING on the first valid report",
        [*RUNNING_AT_5, ("tick", 5.0)],
        (NONE, 21.0, RUNNING),
    ),
    case(
        "RUNNING stays while valid reports arrive",
        [*RUNNING_AT_5, ("report", 10.0), ("report", 15.0), ("tick", 30.0)],
        (NONE, 31.0, RUNNING),
    ),
    case(
        "RUNNING stays just before the hang timeout",
        [*RUNNING_AT_5, ("tick", 20.9)],
        (NONE, 21.0, RUNNING),
    ),
    case("RUNNING->STOPPING on hang", HUNG, (TERMINATE, 26.0, STOPPING), hangs=1),
    case(
        "STOPPING sends TERMINATE only once",
        [*HUNG, ("tick", 22.0)],
        (NONE, 26.0, STOPPING),
        hangs=1,
    ),
    case("STOPPING->KILLING after stop grace", KILLED, (KILL, 31.0, KILLING), hangs=1),
    case(
        "KILLING sends KILL only once",
        [*KILLED, ("tick", 30.9)],
        (NONE, 31.0, KILLING),
        hangs=1,
    ),
    case(
        "KILLING->ESCALATE after kill grace",
        [*KILLED, ("tick", 31.0)],
        (ESCALATE, None, KILLING),
        hangs=1,
    ),
    case(
        "KILLING keeps escalating",
        [*KILLED, ("tick", 31.0), ("tick", 40.0)],
        (ESCALATE, None, KILLING),
        hangs=1,
    ),
    case(
        "STARTING->BACKOFF on exit",
        [*SPAWNED, ("exit", 2.0), ("tick", 2.0)],
        (NONE, 3.5, BACKOFF),
        restarts=1,
    ),
    case(
        "RUNNING->BACKOFF on exit",
        [*RUNNING_AT_5, ("exit", 7.0), ("tick", 7.0)],
        (NONE, 8.5, BACKOFF),
        restarts=1,
    ),
    case(
        "STOPPING->BACKOFF on exit",
        [*HUNG, ("exit", 22.0), ("tick", 22.0)],
        (NONE, 23.5, BACKOFF),
        restarts=1,
        hangs=1,
    ),
    case(
        "KILLING->BACKOFF on exit",
        [*KILLED, ("exit", 27.0), ("tick", 27.0)],
        (NONE, 28.5, BACKOFF),
        restarts=1,
        hangs=1,
    ),
    case(
        "BACKOFF->SPAWN when the restart is due",
        [*SPAWNED, ("exit", 2.0), ("tick", 3.5)],
        (SPAWN, 3.5, BACKOFF),
        restarts=1,
    ),
    case(
        "BACKOFF stays on spawn failure",
        [("tick", 0.0), ("spawn_failed", 0.0), ("tick", 1.0)],
        (NONE, 1.5, BACKOFF),
        restarts=1,
    ),
    case(
        "BACKOFF->SPAWN again after a spawn failure",
        [("tick", 0.0), ("spawn_failed", 0.0), ("tick", 1.5)],
        (SPAWN, 1.5, BACKOFF),
        restarts=1,
    ),
    case(
        "valid report in STOPPING does not revive the child",
        [*HUNG, ("report", 22.0), ("tick", 26.0)],
        (KILL, 31.0, KILLING),
        hangs=1,
    ),
    case(
        "valid report in KILLING does not revive the child",
        [*KILLED, ("report", 28.0), ("tick", 31.0)],
        (ESCALATE, None, KILLING),
        hangs=1,
    ),
    case(
        "valid report in BACKOFF is ignored",
        [*SPAWNED, ("exit", 2.0), ("report", 2.5), ("tick", 3.0)],
        (NONE, 3.5, BACKOFF),
        restarts=1,
    ),
    case(
        "exit in BACKOFF is ignored",
        [*SPAWNED, ("exit", 2.0), ("exit", 2.5), ("tick", 3.0)],
        (NONE, 3.5, BACKOFF),
        restarts=1,
    ),
    case(
        "spawned while a child is live is ignored",
        [*RUNNING_AT_5, ("spawned", 6.0), ("tick", 6.0)],
        (NONE, 21.0, RUNNING),
    ),
    case(
        "BACKOFF->STOPPED at once on shutdown",
        [("shutdown", 0.0), ("tick", 0.0)],
        (NONE, None, STOPPED),
    ),
    case(
        "BACKOFF->STOPPED on shutdown during the backoff sleep",
        [*SPAWNED, ("exit", 2.0), ("shutdown", 2.5), ("tick", 3.5)],
        (NONE, None, STOPPED),
        restarts=1,
    ),
    case(
        "STARTING->STOPPING on shutdown",
        [*SPAWNED, ("shutdown", 1.0), ("tick", 1.0)],
        (TERMINATE, 6.0, STOPPING),
    ),
    case("RUNNING->STOPPING on shutdown", SHUTDOWN_TERM, (TERMINATE, 11.0, STOPPING)),
    case(
        "RUNNING->STOPPING on shutdown wins over an overdue hang (not a hang)",
        [*RUNNING_AT_5, ("shutdown", 30.0), ("tick", 30.0)],
        (TERMINATE, 35.0, STOPPING),
    ),
    case("shutdown: STOPPING->KILLING after stop grace", SHUTDOWN_KILL, (KILL, 16.0, KILLING)),
    case(
        "shutdown: KILLING->ESCALATE after kill grace",
        [*SHUTDOWN_KILL, ("tick", 16.0)],
        (ESCALATE, None, KILLING),
    ),
    case(
        "shutdown is idempotent",
        [*SHUTDOWN_TERM, ("shutdown", 7.0), ("tick", 7.0)],
        (NONE, 11.0, STOPPING),
    ),
    case(
        "STOPPING->STOPPED on exit after shutdown (no restart)",
        [*SHUTDOWN_TERM, ("exit", 7.0), ("tick", 100.0)],
        (NONE, None, STOPPED),
    ),
    case(
        "KILLING->STOPPED on exit after shutdown (no restart)",
        [*SHUTDOWN_KILL, ("exit", 12.0), ("tick", 100.0)],
        (NONE, None, STOPPED),
    ),
    case(
        "STOPPING->STOPPED on exit after shutdown during a hang stop",
        [*HUNG, ("shutdown", 22.0), ("exit", 23.0), ("tick", 100.0)],
        (NONE, None, STOPPED),
        hangs=1,
    ),
    case(
        "STOPPED stays on spawn failure after shutdown (no restart)",
        [("tick", 0.0), ("shutdown", 0.0), ("spawn_failed", 0.0), ("tick", 10.0)],
        (NONE, None, STOPPED),
    ),
    case(
        "STOPPED->STARTING->STOPPING for a child spawned after shutdown",
        [("tick", 0.0), ("shutdown", 0.0), ("spawned", 0.0), ("tick", 0.0)],
        (TERMINATE, 5.0, STOPPING),
    ),
    case(
        "STOPPED ignores reports, exits and spawn failures",
        [("shutdown", 0.0), ("spawn_failed", 1.0), ("report", 2.0), ("exit", 3.0), ("tick", 4.0)],
        (NONE, None, STOPPED),
    ),
]


@pytest.mark.parametrize("given", CASES)
def test_transition(given: Case) -> None:
    watchdog, decision = run(given.steps)
    assert (decision.action, decision.wake_at, watchdog.state) == given.expect
    assert (watchdog.restarts, watchdog.hangs) == (given.restarts, given.hangs)
    assert watchdog.up is (watchdog.state is RUNNING)
    assert (watchdog.restart_at is not None) is (watchdog.state is BACKOFF)


def test_initial_state_spawns_at_once() -> None:
    watchdog = Watchdog(POLICY, now=123.0, rng=half)
    assert watchdog.state is BACKOFF
    assert watchdog.restart_at == 123.0
    assert (watchdog.restarts, watchdog.hangs, watchdog.up) == (0, 0, False)
    assert watchdog.last_valid_report_at is None
    assert watchdog.tick(123.0).action is SPAWN


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(HUNG, "no valid report for 16.0 s (hang timeout 16.0 s)", id="hang"),
        pytest.param(
            [*SPAWNED, ("tick", 30.0)],
            "no valid report within start-up grace 30.0 s",
            id="start-up grace",
        ),
        pytest.param(SHUTDOWN_TERM, "shutdown requested", id="shutdown"),
        pytest.param(KILLED, "child still running 5.0 s after SIGTERM", id="kill"),
        pytest.param(
            [*KILLED, ("tick", 32.0)],
            "child could not be killed: not reaped 6.0 s after SIGKILL",
            id="escalate",
        ),
    ],
)
def test_reason_says_why(steps: list[Step], expected: str) -> None:
    _, decision = run(steps)
    assert decision.reason == expected


def test_last_valid_report_at_survives_a_restart() -> None:
    watchdog, _ = run([*RUNNING_AT_5, ("report", 9.0), ("exit", 10.0), ("tick", 10.0)])
    assert watchdog.last_valid_report_at == 9.0


def crash_loop(watchdog: Watchdog, cycles: int, run_seconds: float) -> list[float]:
    """Spawn when due, report once, exit after `run_seconds`; return each restart delay."""
    delays = []
    for _ in range(cycles):
        due = watchdog.restart_at
        assert due is not None
        assert watchdog.tick(due).action is SPAWN
        watchdog.on_spawned(due)
        watchdog.on_valid_report(due + run_seconds / 2)
        watchdog.on_exit(due + run_seconds)
        restart_at = watchdog.restart_at
        assert restart_at is not None
        delays.append(restart_at - (due + run_seconds))
    return delays


def test_backoff_doubles_while_the_child_never_becomes_stable() -> None:
    watchdog = Watchdog(POLICY, now=0.0, rng=half)
    delays = crash_loop(watchdog, cycles=8, run_seconds=2.0)
    assert delays == pytest.approx([1.5, 3.0, 6.0, 12.0, 24.0, 45.0, 45.0, 45.0])
    assert watchdog.restarts == 8


def test_backoff_stays_under_the_cap() -> None:
    watchdog = Watchdog(POLICY, now=0.0, rng=lambda: 0.999999)
    delays = crash_loop(watchdog, cycles=20, run_seconds=2.0)
    assert max(delays) <= 60.0
    assert delays[-1] > 59.9


def test_merely_alive_child_does_not_reset_the_backoff() -> None:
    watchdog = Watchdog(POLICY, now=0.0, rng=half)
    watchdog.on_spawn_failed(0.0, "EACCES")  # 1.5
    watchdog.on_spawned(1.5)
    watchdog.on_exit(29.0)  # alive 27.5 s without a single valid report
    assert watchdog.restart_at == pytest.approx(29.0 + 3.0)


def stable_run(watchdog: Watchdog, spawned_at: float, first: float, last: float) -> float:
    """Fail twice, then run with a report every 5 s from `first` to `last`; return the delay."""
    watchdog.on_spawn_failed(0.0, "ENOENT")
    watchdog.on_spawn_failed(0.0, "ENOENT")
    watchdog.on_spawned(spawned_at)
    now = first
    while now <= last:
        watchdog.on_valid_report(now)
        assert watchdog.tick(now).action is NONE
        now += 5.0
    watchdog.on_exit(last + 1.0)
    restart_at = watchdog.restart_at
    assert restart_at is not None
    return restart_at - (last + 1.0)


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999999])
def test_stable_run_resets_the_backoff_to_the_floor(jitter: float) -> None:
    """S2: a child that ran stably (50 s of valid reports) then crashes restarts within ~floor."""
    delay = stable_run(Watchdog(POLICY, 0.0, rng=lambda: jitter), 10.0, first=15.0, last=65.0)
    assert 1.0 <= delay < 2.0


def test_short_run_does_not_reset_the_backoff() -> None:
    delay = stable_run(Watchdog(POLICY, 0.0, rng=half), 10.0, first=15.0, last=60.0)
    assert delay == pytest.approx(6.0)  # the third failure: 0.75 * 8


def test_stable_window_is_measured_from_the_first_valid_report() -> None:
    """Spawned at 10, first report at 35: 70 s after spawn is only 45 s of valid reports."""
    delay = stable_run(Watchdog(POLICY, 0.0, rng=half), 10.0, first=35.0, last=80.0)
    assert delay == pytest.approx(6.0)


def test_zero_stable_periods_reset_on_the_first_valid_report() -> None:
    policy = Policy(5.0, 16.0, 30.0, stable_periods=0)
    watchdog = Watchdog(policy, 0.0, rng=half)
    assert crash_loop(watchdog, cycles=3, run_seconds=2.0) == pytest.approx([1.5, 1.5, 1.5])


def test_spawn_failures_are_retried_forever_under_the_cap() -> None:
    watchdog = Watchdog(POLICY, now=0.0, rng=lambda: 0.999999)
    now = 0.0
    for _ in range(1000):
        assert watchdog.tick(now).action is SPAWN
        watchdog.on_spawn_failed(now, "ENOENT")
        restart_at = watchdog.restart_at
        assert restart_at is not None
        assert now + 1.0 <= restart_at <= now + 60.0
        assert watchdog.tick(restart_at - 0.001) == Decision(NONE, restart_at)
        now = restart_at
    assert watchdog.tick(now).action is SPAWN
    assert (watchdog.restarts, watchdog.state) == (1000, BACKOFF)


@pytest.mark.parametrize(("jitter", "expected"), [(0.0, 1.0), (0.5, 1.5), (0.999999, 1.999998)])
def test_first_retry_is_within_floor_and_twice_the_floor(jitter: float, expected: float) -> None:
    assert Backoff(1.0, 60.0, rng=lambda: jitter).next_delay() == pytest.approx(expected)


def test_backoff_doubles_per_failure_up_to_the_cap() -> None:
    backoff = Backoff(1.0, 60.0, rng=lambda: 0.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]  # then the lower half of the cap
    assert backoff.failures == 8


def test_floor_is_enforced_when_the_cap_is_below_twice_the_floor() -> None:
    backoff = Backoff(1.0, 1.5, rng=lambda: 0.0)  # unclamped: 0.75 s
    assert [backoff.next_delay() for _ in range(3)] == [1.0, 1.0, 1.0]


def test_cap_equal_to_floor_gives_a_fixed_delay() -> None:
    backoff = Backoff(2.0, 2.0, rng=lambda: 0.7)
    assert [backoff.next_delay() for _ in range(3)] == [2.0, 2.0, 2.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param(5.0, 60.0, id="above 1"), (-3.0, 1.0), pytest.param(math.nan, 1.0, id="nan")],
)
def test_rng_out_of_contract_is_clamped(value: float, expected: float) -> None:
    backoff = Backoff(1.0, 60.0, rng=lambda: value)
    for _ in range(10):
        backoff.next_delay()
    assert backoff.next_delay() == expected


def test_huge_failure_counts_do_not_overflow() -> None:
    backoff = Backoff(10.0, 300.0, rng=half)
    delays = [backoff.next_delay() for _ in range(3000)]
    assert max(delays) == delays[-1] == 225.0  # 0.75 * cap


def test_reset_brings_the_delay_back_to_the_floor() -> None:
    backoff = Backoff(1.0, 60.0, rng=half)
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() == 1.5


@pytest.mark.parametrize(
    ("floor", "cap"),
    [(0.0, 1.0), (-1.0, 1.0), (math.nan, 1.0), (math.inf, math.inf), (2.0, 1.0), (1.0, math.nan)],
)
def test_invalid_floor_or_cap_is_rejected(floor: float, cap: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(floor, cap, rng=half)
    with pytest.raises(ValueError, match="backoff"):
        Watchdog(Policy(5.0, 16.0, 30.0, backoff_floor_seconds=floor, backoff_cap_seconds=cap), 0)
