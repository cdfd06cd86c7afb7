"""The pipe rows P1-P10 of the fault matrix (reliability.md section 0), end to end, plus the
``--input -`` mode's end of input.

Each test runs the real CLI as a process (the simulator as its monitor, fast timers from
conftest.TIMERS) and asserts the matrix's expected behaviour on stdout, stderr, /proc and the
exit code. Tests that need control of the sidecar's own stdout or stdin use ``CustomSidecar``.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import (
    INTERVAL,
    STOP_TIMEOUT,
    CustomSidecar,
    assert_clean_stderr,
    assert_no_leftovers,
    core_values,
    docs,
    finish,
    has,
    kill_everything,
    matching,
    python_argv,
    records,
    run_args,
    started_pids,
    status_kib,
    task_docs,
    total,
)
from support import REPORTS, SidecarProcess, check_emf, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

Start = Callable[..., SidecarProcess]
MIB = 1024


def _samples(sidecar: SidecarProcess) -> int:
    """NeuronCoreUtilization samples published so far, all cores."""
    return sum(len(v) for v in core_values(sidecar, "NeuronCoreUtilization").values())


# -- P1 ------------------------------------------------------------------------------------------


def test_p1_last_line_without_newline_before_eof_is_counted(sidecars: Start) -> None:
    sidecar = sidecars(run_args("--partial-then-exit"))

    def two_runs_counted() -> bool:
        return len(started_pids(sidecar)) >= 3 and total(sidecar, "ReportsInInterval") >= 2

    wait_until(two_runs_counted, 20, "two unterminated reports counted")
    assert total(sidecar, "ReportErrors") == 0
    per_core = core_values(sidecar, "NeuronCoreUtilization")
    assert per_core
    reports = total(sidecar, "ReportsInInterval")
    assert all(len(values) == reports for values in per_core.values()), per_core
    assert matching(sidecar, r"exited with code 0; restarting")
    assert not matching(sidecar, r"rejected a line")
    finish(sidecar)


# -- P2 ------------------------------------------------------------------------------------------


def test_p2_report_written_byte_by_byte_is_reassembled_once(sidecars: Start) -> None:
    # One report, written a byte at a time over 2 s, then exit 0; the long backoff keeps a second
    # run (and a second report) out of the test.
    timers = {"startup_grace_seconds": 5.0, "hang_timeout_seconds": 3.0}
    timers |= {"backoff_floor_seconds": 20.0, "backoff_cap_seconds": 30.0}
    sidecar = sidecars(run_args("--byte-by-byte-seconds", "2", "--count", "1", timers=timers))
    wait_until(lambda: has(sidecar, r"exited with code 0; restarting"), 20, "the exit")
    (started,) = matching(sidecar, r"^started neuron-monitor")
    (exited,) = matching(sidecar, r"exited with code 0; restarting")
    assert exited.time - started.time >= 1.8, "the report was not written slowly"
    published = len(task_docs(sidecar))
    wait_until(lambda: len(task_docs(sidecar)) > published, 5, "one more publish")
    assert total(sidecar, "ReportsInInterval") == 1
    per_core = core_values(sidecar, "NeuronCoreUtilization")
    assert per_core
    assert all(len(values) == 1 for values in per_core.values()), per_core
    assert total(sidecar, "ReportErrors") == 0
    assert not matching(sidecar, r"rejected a line")
    finish(sidecar)


# -- P3 ------------------------------------------------------------------------------------------


def test_p3_ten_megabyte_line_is_dropped_with_bounded_memory(sidecars: Start) -> None:
    sidecar = sidecars(run_args("--long-line-bytes", "10000000", startup_grace_seconds=5))
    pid = sidecar.proc.pid
    wait_until(lambda: _samples(sidecar) >= 10, 20, "reports after the long line")
    peak = status_kib(pid, "VmHWM")
    now = status_kib(pid, "VmRSS")
    assert peak < 100 * MIB, f"peak RSS {peak} KiB"
    # The line is 10 MB; holding it (or a copy) would lift the peak ~10 MB+ above steady state.
    assert peak - now < 9 * MIB, f"peak {peak} KiB vs steady {now} KiB: the line was buffered"
    wait_until(lambda: total(sidecar, "ReportErrors") >= 1, 5, "ReportErrors")
    assert total(sidecar, "ReportErrors") == 1
    assert matching(sidecar, r"longer than the line limit")
    assert total(sidecar, "MonitorRestarts") == 0
    assert 1 in [doc["MonitorUp"] for doc in task_docs(sidecar)]
    finish(sidecar)


# -- P4 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["steady", "crash-loop"])
def test_p4_stderr_flood_is_drained_and_rate_limited(sidecars: Start, case: str) -> None:
    if case == "steady":
        sidecar = sidecars(run_args("--stderr-flood-bytes", "2000000", startup_grace_seconds=5))
        wait_until(lambda: _samples(sidecar) >= 10, 20, "reports after the flood")
        assert total(sidecar, "MonitorRestarts") == 0, "the flood blocked the monitor"
        assert not matching(sidecar, r"^stopping neuron-monitor")
    else:
        sidecar = sidecars(run_args("--stderr-flood-bytes", "200000", "--crash-after", "2"))
        wait_until(lambda: len(started_pids(sidecar)) >= 4, 20, "three restarts")
    relayed = matching(sidecar, r"^monitor stderr: ")
    assert 1 <= len(relayed) <= 20, f"{len(relayed)} monitor stderr records in under a minute"
    assert all(len(record.message) <= 600 for record in relayed)
    assert matching(sidecar, r"suppress"), "no notice that monitor stderr was suppressed"
    finish(sidecar)


# -- P5 ------------------------------------------------------------------------------------------


def test_p5_burst_of_ten_thousand_reports(sidecars: Start) -> None:
    sidecar = sidecars(run_args("--burst", "10000", startup_grace_seconds=10))
    pid = sidecar.proc.pid
    wait_until(lambda: total(sidecar, "ReportsInInterval") >= 10000, 50, "10,000 reports")
    peak = status_kib(pid, "VmHWM")
    assert peak < 64 * MIB, f"peak RSS {peak} KiB"
    assert total(sidecar, "MonitorRestarts") == 0
    assert not matching(sidecar, r"^stopping neuron-monitor")
    assert _samples(sidecar) >= 2 * 10000  # two cores, every sample kept
    published = len(task_docs(sidecar))
    wait_until(lambda: len(task_docs(sidecar)) > published + 1, 10, "publishing goes on")
    finish(sidecar)
    assert all(line.endswith(b"\n") for line in sidecar.stdout)
    assert len(docs(sidecar)) == len(sidecar.stdout)  # every line checked as EMF


# -- P7 ------------------------------------------------------------------------------------------


P7_CASES = {
    # With a monitor reporting every 0.1 s the loop wakes often and sees the failed sink between
    # publishes; with no monitor (or with stdin idle) the next wake-up IS the next publish.
    "monitor-running": python_argv(*run_args()),
    "monitor-down": python_argv(*run_args(monitor="/nonexistent/neuron-monitor")),
    "stdin-idle": python_argv(
        "run",
        "--input",
        "-",
        "--period-seconds",
        "0.2",
        "--publish-interval-seconds",
        str(INTERVAL),
    ),
}


@pytest.mark.parametrize("case", list(P7_CASES))
def test_p7_stdout_closed_by_the_reader_exits_74_with_one_message(case: str) -> None:
    stdin = subprocess.PIPE if case == "stdin-idle" else subprocess.DEVNULL
    sidecar = CustomSidecar(P7_CASES[case], stdin=stdin, read_stdout=False)
    try:
        assert sidecar.proc.stdout is not None
        sidecar.proc.stdout.close()  # the reader goes away before the first document
        code = sidecar.proc.wait(20)
        sidecar.stop()
        assert_clean_stderr(sidecar)
        assert code == 74, [r.message for r in records(sidecar)]
        errors = [r for r in records(sidecar) if r.level == "ERROR"]
        assert len([r for r in errors if "stdout" in r.message]) == 1, errors
        assert_no_leftovers(sidecar.proc.pid, started_pids(sidecar))
    finally:
        kill_everything(sidecar)


# -- P8 ------------------------------------------------------------------------------------------


def test_p8_blocked_stdout_causes_no_false_hang_and_sigterm_still_works() -> None:
    args = run_args("--scenario", "trn1n.32xlarge", publish_interval_seconds=0.2)
    sidecar = CustomSidecar(python_argv(*args), read_stdout=False)
    try:
        wait_until(lambda: has(sidecar, "delivering valid reports"), 15, "valid reports")
        time.sleep(5)  # nobody reads stdout: prove that no hang is declared meanwhile
        assert not matching(sidecar, r"^stopping neuron-monitor"), "false hang"
        assert len(started_pids(sidecar)) == 1
        sent = time.monotonic()
        sidecar.proc.send_signal(signal.SIGTERM)
        code = sidecar.proc.wait(STOP_TIMEOUT + 5)
        elapsed = time.monotonic() - sent
        assert code == 0
        assert elapsed < STOP_TIMEOUT + 1, f"took {elapsed:.1f} s"
        assert matching(sidecar, r"documents were not written before exit")
        assert sidecar.proc.stdout is not None
        written = sidecar.proc.stdout.read()
        assert len(written) > 16 * 1024, "stdout was never filled"
        complete = written.split(b"\n")[:-1]  # the last write may have been cut by the exit
        assert all(check_emf(line) for line in complete)
        sidecar.stop()
        assert_clean_stderr(sidecar)
        assert_no_leftovers(sidecar.proc.pid, started_pids(sidecar))
    finally:
        kill_everything(sidecar)


# -- P9 ------------------------------------------------------------------------------------------


def test_p9_each_document_reaches_a_pipe_reader_within_a_second() -> None:
    # The minimal profile keeps a publish well under 8 KiB, so a block-buffered stdout would hold
    # documents back for several intervals.
    args = [*run_args(), "--profile", "minimal"]
    sidecar = CustomSidecar(python_argv(*args))
    try:
        wait_until(lambda: len(task_docs(sidecar)) >= 6, 20, "six publishes")
        assert sum(len(line) for line in sidecar.stdout[:3]) < 8192  # the first publish
        for arrival, doc in zip(sidecar.arrivals, docs(sidecar), strict=False):
            latency = arrival - doc["_aws"]["Timestamp"] / 1000
            assert latency < 1.0, f"a document reached the reader {latency:.2f} s late"
        stamps = [doc["_aws"]["Timestamp"] / 1000 for doc in task_docs(sidecar)]
        assert max(b - a for a, b in itertools.pairwise(stamps)) < INTERVAL + 0.5
        finish(sidecar)
    finally:
        kill_everything(sidecar)


# -- P10 -----------------------------------------------------------------------------------------


def test_p10_diagnostics_never_interleave_with_emf(sidecars: Start) -> None:
    sidecar = sidecars(run_args("--stderr-flood-bytes", "300000", "--crash-after", "3"))
    wait_until(lambda: len(started_pids(sidecar)) >= 4, 20, "three restarts")
    finish(sidecar)
    assert sidecar.stdout
    for line in sidecar.stdout:
        assert line.endswith(b"\n")
        doc = check_emf(line.rstrip(b"\n"))
        assert "Message" not in doc
        assert "Level" not in doc
    for line in sidecar.stderr:
        entry = json.loads(line)
        assert isinstance(entry, dict)
        assert set(entry) >= {"Time", "Level", "Logger", "Message"}
        assert "_aws" not in entry


# -- --input - -----------------------------------------------------------------------------------

RECORDED = REPORTS / "wandb-test_system_metrics_trainium-trn1.2xlarge-2022.jsonl"


@pytest.mark.parametrize("how", ["pipe", "pipe-no-final-newline", "regular-file"])
def test_input_mode_flushes_every_sample_at_end_of_input(tmp_path: Path, how: str) -> None:
    data = RECORDED.read_bytes()
    assert data.count(b"\n") == 3
    argv = python_argv("run", "--input", "-", "--publish-interval-seconds", "60")
    if how == "regular-file":
        source = tmp_path / "reports.jsonl"
        source.write_bytes(data)
        with source.open("rb") as stdin:
            sidecar = CustomSidecar(argv, stdin=stdin)
    else:
        sidecar = CustomSidecar(argv, stdin=subprocess.PIPE)
        assert sidecar.proc.stdin is not None
        sidecar.proc.stdin.write(data.rstrip(b"\n") if how == "pipe-no-final-newline" else data)
        sidecar.proc.stdin.close()
    try:
        code = sidecar.proc.wait(20)
        sidecar.stop()
        assert code == 0, b"".join(sidecar.stderr).decode(errors="replace")[-2000:]
        assert_clean_stderr(sidecar)
        (task,) = task_docs(sidecar)
        assert task["ReportsInInterval"] == 3
        assert task["ReportErrors"] == 0
        per_core = core_values(sidecar, "NeuronCoreUtilization")
        assert len(per_core) == 2
        assert all(len(values) == 3 for values in per_core.values()), per_core
    finally:
        kill_everything(sidecar)
