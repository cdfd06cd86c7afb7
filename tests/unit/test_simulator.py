"""The simulated neuron-monitor, run as a real process (no mocks), plus its pure helpers.

Timing bounds are deliberately loose: these tests check behaviour, not scheduler precision.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from emf_neuron.sample_reports import build_busy_report, compact
from emf_neuron.simulator_options import parse_duration

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST = ("--period-seconds", "0.05")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "emf_neuron.simulator", *args]


def _run(*args: str, timeout: float = 10.0) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        _command(*args), cwd=REPO_ROOT, capture_output=True, timeout=timeout, check=False
    )


@contextmanager
def _started(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    """Start the simulator in its own process group; SIGKILL the whole group on the way out."""
    with subprocess.Popen(
        _command(*args),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as proc:
        try:
            yield proc
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # also reaps a forked grandchild
            proc.wait(timeout=5)


class _LineReader:
    """Reads a child's stdout pipe line by line, with a deadline instead of a blocking readline."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._fd = proc.stdout.fileno()
        self._buffer = b""
        self._eof = False

    def next(self, timeout: float) -> bytes | None:
        """The next line with its newline; ``b""`` at EOF; None if none comes within ``timeout``."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if self._eof or remaining <= 0:
                return b"" if self._eof else None
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if ready:
                chunk = os.read(self._fd, 65536)
                self._eof = not chunk
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"


def _reports(stdout: bytes) -> list[dict[str, Any]]:
    reports = [json.loads(line) for line in stdout.splitlines()]
    assert all(isinstance(report, dict) for report in reports)
    return reports


def _utilization(report: dict[str, Any], core: str = "0") -> float:
    counters = report["neuron_runtime_data"][0]["report"]["neuroncore_counters"]
    value = counters["neuroncores_in_use"][core]["neuroncore_utilization"]
    assert isinstance(value, int | float)
    return float(value)


def _wait_stopped(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waited, status = os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
        if waited == pid and os.WIFSTOPPED(status):
            return True
        time.sleep(0.01)
    return False


def test_count_emits_that_many_compact_json_reports() -> None:
    result = _run(*FAST, "--count", "3")

    assert result.returncode == 0
    assert result.stdout.endswith(b"\n")
    reports = _reports(result.stdout)
    assert len(reports) == 3
    assert all("neuron_runtime_data" in report for report in reports)
    for line in result.stdout.splitlines():  # compact, as neuron-monitor writes them
        assert json.dumps(json.loads(line), separators=(",", ":")).encode() == line


def test_utilization_moves_between_reports_and_is_deterministic_per_seed() -> None:
    first = _run(*FAST, "--count", "5", "--seed", "7")
    again = _run(*FAST, "--count", "5", "--seed", "7")

    values = [_utilization(report) for report in _reports(first.stdout)]
    assert len(set(values)) > 1
    assert all(0.0 <= value <= 100.0 for value in values)
    assert first.stdout == again.stdout
    idle_core = {_utilization(report, "1") for report in _reports(first.stdout)}
    assert idle_core == {0.0}  # an idle core stays idle


def test_config_file_period_sets_the_pace_and_the_group_periods(tmp_path: Path) -> None:
    config = tmp_path / "monitor.json"
    config.write_text(json.dumps({"period": "200ms", "neuron_runtimes": []}), encoding="utf-8")

    with _started("-c", str(config), "--verbose", "4", "--count", "3") as proc:
        reader = _LineReader(proc)
        first, t_first = reader.next(5.0), time.monotonic()
        lines = [reader.next(5.0), reader.next(5.0)]
        t_third = time.monotonic()
        assert proc.wait(timeout=5) == 0

    assert first is not None
    assert all(line for line in lines)
    assert 0.3 <= t_third - t_first <= 2.0  # two periods of 0.2 s, loosely
    period = json.loads(first)["system_data"]["memory_info"]["period"]
    assert period == pytest.approx(0.2, rel=1e-3)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("500ms", 0.5), ("1m", 60.0), ("1m30s", 90.0), ("1.5s", 1.5), ("250us", 25e-5)],
)
def test_parse_duration_reads_neuron_monitor_periods(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "s", "5 s", "5x", "-1s", "1s garbage"])
def test_parse_duration_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_bad_config_file_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "monitor.json"
    config.write_text('{"period": "soon"}', encoding="utf-8")

    result = _run("-c", str(config), "--count", "1")

    assert result.returncode == 2
    assert b"not a duration" in result.stderr
    assert result.stdout == b""


def test_crash_after_exits_with_the_code_after_that_many_reports() -> None:
    result = _run(*FAST, "--crash-after", "2", "--exit-code", "3")

    assert result.returncode == 3
    assert len(_reports(result.stdout)) == 2


def test_signal_after_dies_of_the_signal() -> None:
    result = _run(*FAST, "--signal-after", "1", "--signal", "SIGKILL")

    assert result.returncode == -signal.SIGKILL
    assert len(_reports(result.stdout)) == 1


def test_partial_then_exit_leaves_the_last_line_unterminated() -> None:
    result = _run(*FAST, "--partial-then-exit")

    assert result.returncode == 0
    assert result.stdout
    assert b"\n" not in result.stdout
    assert "neuron_runtime_data" in json.loads(result.stdout)


def _strict_report(line: bytes) -> bool:
    """Whether ``line`` is a JSON object in valid UTF-8 with no NaN/Infinity tokens."""

    def reject(token: str) -> float:
        raise ValueError(token)

    try:
        return isinstance(json.loads(line.decode("utf-8"), parse_constant=reject), dict)
    except ValueError:  # includes UnicodeDecodeError and JSONDecodeError
        return False


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def test_garbage_lines_are_not_reports() -> None:
    result = _run(*FAST, "--garbage", "--count", "10")

    lines = result.stdout.splitlines()
    assert result.returncode == 0
    assert len(lines) == 10
    assert sum(not _parses(line) for line in lines) >= len(lines) / 2
    assert not any(_strict_report(line) for line in lines)


def test_error_reports_parse_and_every_group_carries_an_error() -> None:
    result = _run(*FAST, "--error-reports", "--count", "2")

    reports = _reports(result.stdout)
    assert len(reports) == 2
    for report in reports:
        runtimes = report["neuron_runtime_data"]
        assert runtimes
        groups = [group for rt in runtimes for group in rt["report"].values()]
        groups += list(report["system_data"].values())
        assert all(rt["error"] for rt in runtimes)
        assert all(group["error"] and set(group) == {"period", "error"} for group in groups)
        assert report["instance_info"]["error"]
        assert report["neuron_hardware_info"]["error"]


def test_busy_report_has_32_runtimes_and_about_445_kb() -> None:
    report = build_busy_report()

    size = len(compact(report))
    runtimes = report["neuron_runtime_data"]
    assert isinstance(runtimes, list)
    assert 350_000 <= size <= 600_000
    assert len(runtimes) == 32
    assert len({rt["pid"] for rt in runtimes}) == 32
    assert [rt["neuron_runtime_tag"] for rt in runtimes] == [str(i) for i in range(32)]
    for rt in runtimes:
        assert len(rt["report"]["neuroncore_counters"]["neuroncores_in_use"]) == 32
        assert len(rt["report"]["memory_used"]["loaded_models"]) == 20


def test_busy_scenario_streams_the_big_report() -> None:
    result = _run(*FAST, "--scenario", "trn1n.32xlarge-busy", "--count", "2")

    assert result.returncode == 0
    assert [len(r["neuron_runtime_data"]) for r in _reports(result.stdout)] == [32, 32]


def test_hang_after_goes_silent_but_stays_alive() -> None:
    with _started(*FAST, "--hang-after", "1") as proc:
        reader = _LineReader(proc)
        assert reader.next(5.0)
        assert reader.next(1.0) is None  # neither a line nor EOF
        assert proc.poll() is None


def test_sigterm_exits_0_unless_ignored() -> None:
    with _started(*FAST) as proc:
        assert _LineReader(proc).next(5.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0

    with _started(*FAST, "--ignore-term") as proc:
        assert _LineReader(proc).next(5.0)
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.3)


def test_stop_after_stops_itself_and_resumes_on_sigcont() -> None:
    with _started(*FAST, "--stop-after", "1", "--count", "2") as proc:
        reader = _LineReader(proc)
        assert reader.next(5.0)
        assert _wait_stopped(proc.pid, timeout=5.0)
        proc.send_signal(signal.SIGCONT)
        assert reader.next(5.0)
        assert proc.wait(timeout=5) == 0


def test_fork_grandchild_keeps_stdout_open_after_the_parent_exits() -> None:
    with _started(*FAST, "--fork-grandchild") as proc:
        assert proc.wait(timeout=5) == 0
        reader = _LineReader(proc)
        assert reader.next(5.0)
        assert reader.next(0.3) is None  # no EOF: the grandchild still holds the pipe


def test_replay_emits_the_file_lines_verbatim_and_loops(tmp_path: Path) -> None:
    recording = tmp_path / "two.jsonl"
    recording.write_bytes(b'{"a": 1}\n{"b": 2}')

    once = _run(*FAST, "--replay", str(recording))
    looped = _run(*FAST, "--replay", str(recording), "--loop", "--count", "5")

    assert once.returncode == 0
    assert once.stdout == b'{"a": 1}\n{"b": 2}\n'
    assert looped.stdout == once.stdout * 2 + b'{"a": 1}\n'


def test_long_line_and_stderr_flood_come_before_the_first_report() -> None:
    result = _run(
        *FAST, "--long-line-bytes", "100000", "--stderr-flood-bytes", "300000", "--count", "1"
    )

    long_line, report = result.stdout.split(b"\n", 1)
    assert result.returncode == 0
    assert len(long_line) == 100_000
    assert len(_reports(report)) == 1
    assert len(result.stderr) == 300_000


def test_byte_by_byte_and_burst_still_produce_whole_reports() -> None:
    started = time.monotonic()
    dribbled = _run(*FAST, "--byte-by-byte-seconds", "0.3", "--count", "2")
    burst = _run("--period-seconds", "30", "--burst", "3", "--count", "3")

    assert len(_reports(dribbled.stdout)) == 2
    assert len(_reports(burst.stdout)) == 3
    assert time.monotonic() - started < 8.0  # the burst did not wait for its 30 s period


def test_chaos_crash_probability_one_exits_1_after_the_first_report() -> None:
    result = _run(*FAST, "--chaos-seed", "3", "--crash-probability", "1")

    assert result.returncode == 1
    assert len(_reports(result.stdout)) == 1
