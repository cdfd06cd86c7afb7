"""The watchdog rows S1-S13 of the fault matrix (reliability.md section 0), end to end.

Each test runs the real CLI as a process against the bundled simulator (or a small helper
program), with fast timers (conftest.TIMERS), and asserts the matrix's expected behaviour on the
EMF documents (stdout), the JSON log records (stderr), /proc, and the exit code.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import (
    CAP,
    FLOOR,
    INTERVAL,
    MINI_INIT,
    ORPHAN_MAKER,
    STOP_GRACE,
    STOP_TIMEOUT,
    CustomSidecar,
    Record,
    alive,
    children,
    core_values,
    cpu_seconds,
    finish,
    has,
    kill_everything,
    live_in_groups,
    matching,
    python_argv,
    read_proc,
    records,
    run_args,
    started_pids,
    state,
    task_docs,
    total,
    write_script,
)
from conftest import ESCAPING_MONITOR as ESCAPING_MONITOR_SOURCE
from support import REPO, SidecarProcess, check_emf, metric_values, wait_until

from emf_neuron.commands import build_layout, build_pipeline
from emf_neuron.config import load_settings
from emf_neuron.sidecar import Clocks
from emf_neuron.sink import StdoutSink
from emf_neuron.supervisor import Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

Start = Callable[..., SidecarProcess]
TOLERANCE = 0.05  # log timestamps are truncated to the millisecond; scheduling adds a little
RESTARTING = re.compile(r"restarting in ([\d.]+) s")
STARTED = re.compile(r"^started neuron-monitor \(pid (\d+)\)")


def _starts(sidecar: SidecarProcess) -> list[Record]:
    return matching(sidecar, r"^started neuron-monitor")


def _restart_delays(sidecar: SidecarProcess) -> tuple[list[float], list[float]]:
    """(planned, measured) delay of each restart: the logged "restarting in X s", and the time
    from that exit record to the next start record."""
    recs = records(sidecar)
    planned: list[float] = []
    measured: list[float] = []
    for index, record in enumerate(recs):
        match = RESTARTING.search(record.message)
        later = [r for r in recs[index + 1 :] if r.message.startswith("started neuron-monitor")]
        if match and later:
            planned.append(float(match.group(1)))
            measured.append(later[0].time - record.time)
    return planned, measured


# -- S1 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exit_code", [0, 1])
def test_s1_crash_loop_backs_off_between_floor_and_cap_and_stays_idle(
    sidecars: Start, exit_code: int
) -> None:
    sidecar = sidecars(run_args("--crash-after", "0", "--exit-code", str(exit_code)))
    pid = sidecar.proc.pid
    wait_until(lambda: len(started_pids(sidecar)) >= 1, 15, "the first start")
    cpu_before, t_before = cpu_seconds(pid), time.monotonic()
    most_children = 0

    def six_starts() -> bool:
        nonlocal most_children
        most_children = max(most_children, len(children(pid)))
        return len(started_pids(sidecar)) >= 6 and total(sidecar, "MonitorRestarts") > 3

    wait_until(six_starts, 30, "6 starts and MonitorRestarts > 3")
    cpu_share = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - t_before)

    planned, measured = _restart_delays(sidecar)
    assert len(measured) >= 5
    assert min(measured) >= FLOOR - TOLERANCE, measured  # the floor: never a spin
    assert max(measured) <= CAP + 0.3, measured  # the cap (plus scheduling slack)
    assert all(FLOOR <= delay <= CAP for delay in planned), planned
    assert planned[0] < min(planned[2:]), f"the delay did not grow: {planned}"
    start_times = [record.time for record in _starts(sidecar)]
    gaps = [b - a for a, b in itertools.pairwise(start_times)]
    assert min(gaps) >= FLOOR - TOLERANCE, gaps
    assert f"exited with code {exit_code}; restarting" in " ".join(
        r.message for r in records(sidecar)
    )
    assert most_children <= 1, "the sidecar held more than one child (unreaped zombies?)"
    assert cpu_share < 0.25, f"the sidecar used {cpu_share:.0%} of a core while crash-looping"

    docs = task_docs(sidecar)
    assert set(sidecar.values("MonitorUp")) == {0}
    stamps = [doc["_aws"]["Timestamp"] / 1000 for doc in docs]
    assert len(stamps) >= 4
    assert max(b - a for a, b in itertools.pairwise(stamps)) <= INTERVAL + 0.35
    finish(sidecar)


# -- S2 ------------------------------------------------------------------------------------------

STAGED_MONITOR = """\
import os, sys
count_file, quick_runs, crash_after = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = int(open(count_file).read()) + 1 if os.path.exists(count_file) else 1
open(count_file, "w").write(str(runs))
crash = "0" if runs <= quick_runs else crash_after
os.execv(sys.executable, [sys.executable, "-m", "emf_neuron.simulator",
                          "--period-seconds", "0.1", "--crash-after", crash])
"""


def test_s2_backoff_resets_after_a_stable_run(sidecars: Start, tmp_path: Path) -> None:
    # Runs 1-3 crash at once (the delay grows to [4, 8) floors); run 4 delivers 35 reports over
    # 3.5 s, longer than the reset window (10 periods of 0.2 s), then crashes.
    script = write_script(tmp_path, "staged.py", STAGED_MONITOR)
    monitor = shlex.join([sys.executable, str(script), str(tmp_path / "runs"), "3", "35"])
    sidecar = sidecars(run_args(monitor=monitor, backoff_cap_seconds=4))
    wait_until(lambda: len(started_pids(sidecar)) >= 5, 40, "the fifth start")
    planned, measured = _restart_delays(sidecar)
    starts = _starts(sidecar)
    exits = matching(sidecar, RESTARTING.pattern)
    assert exits[3].time - starts[3].time >= 10 * 0.2, "run 4 was not longer than the window"
    # (the logged delays are rounded to 0.1 s)
    assert planned[2] >= 4 * FLOOR - 0.05, f"the backoff had not grown before: {planned}"
    assert planned[3] <= 2 * FLOOR + 0.05, f"not reset after a stable run: {planned}"
    assert FLOOR - TOLERANCE <= measured[3] <= 2 * FLOOR + 0.2, measured
    finish(sidecar)


# -- S3 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGSEGV"])
def test_s3_death_by_signal_is_reported_as_a_signal_then_restarted(
    sidecars: Start, sig: str
) -> None:
    sidecar = sidecars(run_args("--signal-after", "1", "--signal", sig))

    def reported() -> bool:
        exits = [d.get("MonitorLastExit", "") for d in task_docs(sidecar)]
        return len(started_pids(sidecar)) >= 2 and any(e.startswith("killed by") for e in exits)

    wait_until(reported, 20, f"a restart and MonitorLastExit 'killed by {sig}'")
    first = started_pids(sidecar)[0]
    expected = f"killed by {sig}" + (" (perhaps out of memory)" if sig == "SIGKILL" else "")
    exits = {d["MonitorLastExit"] for d in task_docs(sidecar) if "MonitorLastExit" in d}
    assert exits == {expected}
    assert matching(sidecar, rf"^neuron-monitor \(pid {first}\) {re.escape(expected)}; restarting")
    assert not matching(sidecar, r"exited with code")
    finish(sidecar)


# -- S4 ------------------------------------------------------------------------------------------


def test_s4_stopped_child_is_terminated_with_cont_and_restarted(sidecars: Start) -> None:
    sidecar = sidecars(run_args("--stop-after", "2"))
    wait_until(lambda: len(started_pids(sidecar)) >= 1, 15, "the first start")
    first = started_pids(sidecar)[0]
    wait_until(lambda: state(first) == "T", 10, "the monitor to stop itself")
    wait_until(lambda: len(started_pids(sidecar)) >= 2, 15, "a restart after the hang")
    (stopping,) = matching(sidecar, rf"^stopping neuron-monitor \(pid {first}\)")
    silent = re.search(r"no valid report for ([\d.]+) s \(hang timeout 1.0 s\)", stopping.message)
    assert silent, stopping.message
    assert float(silent.group(1)) >= 1.0
    assert stopping.level == "WARNING"
    (exited,) = matching(sidecar, rf"^neuron-monitor \(pid {first}\) exited with code 0")
    assert exited.time - stopping.time < STOP_GRACE, "TERM alone (with CONT) should end it"
    assert not matching(sidecar, "ignored SIGTERM")
    assert not alive(first)
    wait_until(lambda: total(sidecar, "MonitorRestarts") >= 1, 5, "MonitorRestarts >= 1")
    finish(sidecar)


# -- S5 ------------------------------------------------------------------------------------------


GARBAGE_LINES = b"""neuron-monitor: this line is not JSON at all
[{"neuron_runtime_data":[]},1,2,3]
{"neuron_runtime_data":[{"pid":1,"report":{"execution_stats":{"period":1.0,
{"neuron_runtime_data":[],"instance_info":{"instance_name":"\xff\xfe\xc3("}}
"""


@pytest.mark.parametrize(
    "mode",
    [
        "--garbage",
        "replayed-garbage",
        "--error-reports",
    ],
)
def test_s5_child_without_valid_reports_is_treated_as_hung(
    sidecars: Start, tmp_path: Path, mode: str
) -> None:
    if mode == "replayed-garbage":  # only lines that are certainly invalid, over and over
        garbage = tmp_path / "garbage.jsonl"
        garbage.write_bytes(GARBAGE_LINES)
        sidecar = sidecars(run_args("--replay", str(garbage), "--loop"))
    else:
        sidecar = sidecars(run_args(mode))
    wait_until(lambda: len(started_pids(sidecar)) >= 2, 8, "a restart")
    first = started_pids(sidecar)[0]
    assert matching(
        sidecar, rf"^stopping neuron-monitor \(pid {first}\): no valid report within start-up"
    )
    wait_until(lambda: len(task_docs(sidecar)) >= 4, 10, "4 task documents")
    assert set(sidecar.values("MonitorUp")) == {0}
    if mode != "--error-reports":
        assert total(sidecar, "ReportErrors") > 0
    finish(sidecar)


# -- S6 ------------------------------------------------------------------------------------------


def test_s6_exit_is_detected_while_a_grandchild_holds_stdout(sidecars: Start) -> None:
    sidecar = sidecars(run_args("--fork-grandchild"))
    wait_until(lambda: len(started_pids(sidecar)) >= 3, 20, "two restarts")
    pids = started_pids(sidecar)
    for pid in pids[:2]:
        (started,) = matching(sidecar, rf"^started neuron-monitor \(pid {pid}\)")
        (exited,) = matching(sidecar, rf"^neuron-monitor \(pid {pid}\) exited with code 0;")
        assert exited.time - started.time < 1.5, "exit seen late (by EOF or the hang timer?)"
    assert not matching(sidecar, r"^stopping neuron-monitor"), "exit was not detected"
    finish(sidecar)  # asserts that no process of any monitor's group (the grandchild) is left


# -- S7 ------------------------------------------------------------------------------------------


def test_s7_child_ignoring_sigterm_is_killed_within_the_stop_budget(sidecars: Start) -> None:
    sidecar = sidecars(run_args("--ignore-term"))
    wait_until(lambda: has(sidecar, "delivering valid reports"), 15, "valid reports")
    (child,) = started_pids(sidecar)
    sent = time.monotonic()
    sidecar.proc.send_signal(signal.SIGTERM)
    sidecar.proc.wait(STOP_TIMEOUT + 5)
    elapsed = time.monotonic() - sent
    assert STOP_GRACE - 0.1 <= elapsed < STOP_TIMEOUT, elapsed
    assert matching(sidecar, rf"^neuron-monitor \(pid {child}\) ignored SIGTERM: killing it")
    assert matching(sidecar, rf"^neuron-monitor \(pid {child}\) killed by SIGKILL")
    assert not alive(child)
    finish(sidecar)


# -- S8 ------------------------------------------------------------------------------------------


class EscapingMonitor:
    """Monitor commands whose process escapes its group; ``remember`` notes it for cleanup."""

    def __init__(self, script: Path) -> None:
        self.script = script
        self.pgids: list[int] = []

    def command(self, *sim_args: str) -> str:
        """The --monitor-command running the simulator with ``sim_args`` outside its group."""
        return shlex.join([sys.executable, str(self.script), "--period-seconds", "0.1", *sim_args])

    def remember(self, pid: int) -> int:
        """Note the group that child ``pid`` escaped to; returns it."""
        proc = read_proc(pid)
        assert proc is not None
        self.pgids.append(proc.pgrp)
        return proc.pgrp


@pytest.fixture
def escaping(tmp_path: Path) -> Iterator[EscapingMonitor]:
    """An ``EscapingMonitor``; every group it escaped to is killed afterwards."""
    monitor = EscapingMonitor(write_script(tmp_path, "escaping.py", ESCAPING_MONITOR_SOURCE))
    yield monitor
    for pgid in monitor.pgids:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            continue


@pytest.mark.parametrize("trigger", ["hang", "shutdown"])
def test_s8_unkillable_child_makes_the_sidecar_exit_75(
    sidecars: Start, escaping: EscapingMonitor, trigger: str
) -> None:
    # The monitor leaves the process group the sidecar made for it, so the sidecar's SIGTERM,
    # SIGCONT and SIGKILL (all sent with killpg) reach nothing: for the sidecar it is a child
    # stuck in the kernel. (A real D-state process needs root and a wedged driver.)
    sim_args = ("--hang-after", "2") if trigger == "hang" else ()
    sidecar = sidecars(run_args(monitor=escaping.command(*sim_args)))
    wait_until(lambda: has(sidecar, "delivering valid reports"), 15, "valid reports")
    (child,) = started_pids(sidecar)
    assert escaping.remember(child) != child, "the monitor did not leave its group"
    began = time.monotonic()
    if trigger == "shutdown":
        sidecar.proc.send_signal(signal.SIGTERM)
    code = sidecar.proc.wait(30)
    elapsed = time.monotonic() - began
    # hang: 1 s hang timeout first; shutdown: the whole stop must fit the stop budget
    assert elapsed < (1.0 + 2 * STOP_GRACE + 2.0 if trigger == "hang" else STOP_TIMEOUT), elapsed
    assert elapsed >= 2 * STOP_GRACE - 0.2, "gave up before TERM grace + KILL grace"
    assert code == 75
    # The premise: the child outlived SIGKILL + kill grace (a reporting one dies of SIGPIPE once
    # the sidecar is gone, a hung one writes nothing and is still there).
    assert not matching(sidecar, rf"\(pid {child}\) (exited|killed)")
    assert alive(child) or trigger == "shutdown"
    assert matching(sidecar, r"ignored SIGTERM: killing it")
    (escalated,) = matching(sidecar, r"^neuron-monitor cannot be killed")
    assert escalated.level == "ERROR"
    assert task_docs(sidecar)[-1]["MonitorUp"] == 0
    finish(sidecar, 75, reaped=False)


# -- S9 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["missing", "not-executable"])
def test_s9_unstartable_monitor_is_retried_forever_and_logged_once(
    sidecars: Start, tmp_path: Path, problem: str
) -> None:
    if problem == "missing":
        program = "/nonexistent/neuron-monitor"
    else:
        path = tmp_path / "neuron-monitor"
        path.write_text("#!/bin/sh\nexit 0\n", encoding="ascii")
        path.chmod(0o644)
        program = str(path)
    sidecar = sidecars(run_args(monitor=program))
    wait_until(lambda: total(sidecar, "MonitorRestarts") >= 4, 20, "MonitorRestarts >= 4")
    wait_until(lambda: len(task_docs(sidecar)) >= 4, 10, "4 task documents")
    (error,) = matching(sidecar, r"^cannot start")
    assert error.level == "ERROR"
    assert program in error.message
    assert set(sidecar.values("MonitorUp")) == {0}
    assert all(doc["MonitorLastExit"].startswith("cannot start") for doc in task_docs(sidecar))
    finish(sidecar)
    assert len(matching(sidecar, r"cannot start")) == 1


# -- S10 -----------------------------------------------------------------------------------------

S10_CASES = {
    # name: (simulator args, timer overrides, reports expected in the final flush)
    "running": ((), {}, None),
    "backoff": (("--crash-after", "2"), {"backoff_floor_seconds": 5, "backoff_cap_seconds": 10}, 2),
    "blocked-read": (("--hang-after", "1"), {"hang_timeout_seconds": 30}, 1),
}


@pytest.mark.parametrize("case", list(S10_CASES))
def test_s10_sigterm_wakes_the_loop_flushes_and_exits_promptly(sidecars: Start, case: str) -> None:
    sim_args, overrides, reports = S10_CASES[case]
    timers: dict[str, float] = {
        "publish_interval_seconds": 60,
        "startup_grace_seconds": 30,
        **overrides,
    }
    sidecar = sidecars(run_args(*sim_args, timers=timers))
    ready = "restarting in" if case == "backoff" else "delivering valid reports"
    wait_until(lambda: has(sidecar, ready), 15, ready)
    sent = time.monotonic()
    sidecar.proc.send_signal(signal.SIGTERM)
    sidecar.proc.wait(10)
    elapsed = time.monotonic() - sent
    assert elapsed < 2.0, f"took {elapsed:.2f} s to stop"

    messages = [record.message for record in records(sidecar)]
    stop_at = next(i for i, m in enumerate(messages) if m.startswith("received signal"))
    assert not any(m.startswith("started neuron-monitor") for m in messages[stop_at:])
    (child,) = started_pids(sidecar)
    assert any(m.startswith(f"neuron-monitor (pid {child}) exited") for m in messages)
    (final,) = task_docs(sidecar)  # the interval is 60 s: the only task document is the flush
    if reports is None:
        assert final["ReportsInInterval"] >= 1
        assert final["ReportAgeSeconds"] < 0.5, "no sample from just before the stop"
    else:
        assert final["ReportsInInterval"] == reports
    for values in core_values(sidecar, "NeuronCoreUtilization").values():
        assert len(values) == final["ReportsInInterval"]
    finish(sidecar)


# -- S11 -----------------------------------------------------------------------------------------


def test_s11_signal_bursts_give_one_clean_shutdown(sidecars: Start) -> None:
    sidecar = sidecars(run_args("--crash-after", "0", backoff_cap_seconds=0.4))
    wait_until(lambda: len(started_pids(sidecar)) >= 3, 20, "a crash loop (SIGCHLDs)")
    for _ in range(100):
        sidecar.proc.send_signal(signal.SIGCHLD)
    seen = len(started_pids(sidecar))
    wait_until(lambda: len(started_pids(sidecar)) > seen, 10, "restarts after a SIGCHLD burst")
    for _ in range(100):
        if sidecar.proc.poll() is not None:
            break
        sidecar.proc.send_signal(signal.SIGTERM)
    finish(sidecar)
    assert len(matching(sidecar, r"^received signal")) == 1


# -- S12 -----------------------------------------------------------------------------------------


def test_s12_orphans_reaped_by_init_and_the_exit_status_stays_true(tmp_path: Path) -> None:
    init = write_script(tmp_path, "init.py", MINI_INIT)
    maker = write_script(tmp_path, "orphans.py", ORPHAN_MAKER)
    sim_args = ["--period-seconds", "0.1", "--crash-after", "3", "--exit-code", "3"]
    monitor = shlex.join([sys.executable, str(maker), str(tmp_path / "made"), "1000", *sim_args])
    report = tmp_path / "reaped"
    argv = [sys.executable, str(init), str(report), *python_argv()]
    sidecar = CustomSidecar([*argv, *run_args(monitor=monitor, startup_grace_seconds=10)])
    try:
        wait_until(lambda: has(sidecar, r"exited with code 3;"), 30, "the monitor's exit")
        init_pid = sidecar.proc.pid
        (sidecar_proc,) = [p for p in children(init_pid) if not p.zombie]

        def no_zombies() -> bool:
            procs = children(init_pid) + children(sidecar_proc.pid)
            return not [p for p in procs if p.zombie]

        wait_until(no_zombies, 15, "every orphan reaped")
        wait_until(
            lambda: any(
                d.get("MonitorLastExit") == "exited with code 3" for d in task_docs(sidecar)
            ),
            10,
            "MonitorLastExit 'exited with code 3'",
        )
        assert not matching(sidecar, r"exited with code 0;")
        finish(sidecar)
        assert int(report.read_text(encoding="ascii")) >= 1000
    finally:
        kill_everything(sidecar)


# -- S13 -----------------------------------------------------------------------------------------


class _JumpingWall:
    """A wall clock that is one hour ahead, then one hour behind, on alternate calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return time.time() + (3600.0 if self.calls % 2 else -3600.0)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_s13_wall_clock_jumps_do_not_move_any_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    # The system clock cannot be changed here, so the Supervisor runs in this process with an
    # injected wall clock that jumps +-1 h on every read, and the real monotonic clock.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    flags = {"period_seconds": "0.2", "publish_interval_seconds": str(INTERVAL)}
    flags |= {"hang_timeout_seconds": "1", "startup_grace_seconds": "1.5"}
    flags |= {"backoff_floor_seconds": str(FLOOR), "stop_timeout_seconds": str(STOP_TIMEOUT)}
    settings = load_settings(flags, {})
    pipeline = build_pipeline(settings, build_layout(settings, None))
    read_fd, write_fd = os.pipe()
    lines: list[bytes] = []
    reader = threading.Thread(target=_read_lines, args=(read_fd, lines), daemon=True)
    reader.start()
    wall = _JumpingWall()
    argv = [sys.executable, "-m", "emf_neuron.simulator", "--period-seconds", "0.1"]
    supervisor = Supervisor(pipeline, StdoutSink(write_fd), settings, argv, Clocks(wall=wall))
    handler, package_logger = _Collect(), logging.getLogger("emf_neuron")
    saved_level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)  # a late TERM is harmless
    stopper = threading.Thread(target=_terminate_after, args=(lines, 8), daemon=True)
    try:
        stopper.start()
        began = time.monotonic()
        code = supervisor.run_child()
        duration = time.monotonic() - began
    finally:
        signal.signal(signal.SIGTERM, previous)
        package_logger.removeHandler(handler)
        package_logger.setLevel(saved_level)
        os.close(write_fd)
        reader.join(5)
    assert code == 0
    docs = [check_emf(line) for line in lines]
    health = [doc for doc in docs if "MonitorUp" in doc]
    stopping = [m for m in handler.messages if m.startswith("stopping neuron-monitor")]
    assert len(stopping) == 1, stopping
    assert stopping[0].endswith("shutdown requested")
    assert sum(metric_values(health, "MonitorRestarts")) == 0
    assert metric_values(health[:-1], "MonitorUp") == [1] * (len(health) - 1)
    expected = duration / INTERVAL
    assert expected - 2 <= len(health) - 1 <= expected + 1, (len(health), duration)
    now = time.time()
    offsets = {round((doc["_aws"]["Timestamp"] / 1000 - now) / 3600) for doc in docs}
    assert offsets == {-1, 1}, "the injected wall clock was not what stamped the documents"
    assert wall.calls >= len(health)
    _assert_no_wall_clock_timers()
    (child,) = [int(found[1]) for m in handler.messages if (found := STARTED.match(m))]
    assert not live_in_groups([child])
    proc = read_proc(child)
    assert proc is None or proc.pgrp != child, "the monitor was not reaped"


def _read_lines(fd: int, out: list[bytes]) -> None:
    with os.fdopen(fd, "rb") as stream:
        out.extend(line.rstrip(b"\n") for line in stream)


def _terminate_after(lines: list[bytes], task_documents: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sum(b'"MonitorUp"' in line for line in list(lines)) >= task_documents:
            break
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)


LOOP_MODULES = (
    "sidecar",
    "supervisor",
    "watchdog",
    "child",
    "sink",
    "signals",
    "relay",
    "pipeline",
)


def _assert_no_wall_clock_timers() -> None:
    """The only wall-clock read in the running loop is the injectable default in ``Clocks``."""
    uses: list[str] = []
    for name in LOOP_MODULES:
        path = REPO / "emf_neuron" / f"{name}.py"
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"\btime\.time\b|\bdatetime\.now\b|\btime\.gmtime\(\)", line):
                uses.append(f"{path.name}: {line.strip()}")
    assert uses == ["sidecar.py: wall: Callable[[], float] = time.time"], uses


# -- demo ----------------------------------------------------------------------------------------


def test_demo_with_a_crashing_simulator_shows_the_restart(sidecars: Start) -> None:
    flags = ["--period-seconds", "0.2", "--publish-interval-seconds", str(INTERVAL)]
    flags += ["--hang-timeout-seconds", "1", "--startup-grace-seconds", "3"]
    flags += ["--backoff-floor-seconds", str(FLOOR), "--backoff-cap-seconds", str(CAP)]
    sidecar = sidecars(["demo", *flags, "--", "--crash-after", "3"])

    def restarted() -> bool:
        return total(sidecar, "MonitorRestarts") >= 1 and len(started_pids(sidecar)) >= 2

    wait_until(restarted, 20, "MonitorRestarts >= 1 and a second start")
    assert matching(sidecar, r"exited with code 1; restarting in")
    assert total(sidecar, "ReportsInInterval") >= 3
    finish(sidecar)


def test_s6b_a_helper_that_keeps_writing_cannot_stall_the_loop(sidecars: Start) -> None:
    """1. The monitor starts a helper in its group that writes forever, then exits.
    2. The sidecar kills the group before draining, so the drain ends and the loop goes on:
       restarts keep coming and SIGTERM still stops it within the budget."""
    monitor = "sh -c '(while :; do echo garbage; done) & exit 0'"
    sidecar = sidecars(run_args(monitor=monitor))
    wait_until(lambda: len(matching(sidecar, "started neuron-monitor")) >= 3, 20, "three starts")
    started = time.monotonic()
    assert sidecar.stop() == 0
    assert time.monotonic() - started < STOP_TIMEOUT
    finish(sidecar, 0)
