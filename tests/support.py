"""Shared test support: the EMF invariants every output line must satisfy, condition waits, and
a harness that runs the real CLI as a process. No mocks: everything here observes real output."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
REPORTS = REPO / "tests" / "data" / "reports"
EXPECTED = REPO / "tests" / "data" / "expected"
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}  # fmt: skip
MAX_LINE = 16 * 1024 - 1


def check_emf(line: bytes) -> dict[str, Any]:
    """Assert that ``line`` is one valid EMF document within our limits; return it parsed."""
    assert b"\n" not in line, "one line"
    assert line.isascii(), "ASCII only"
    assert len(line) <= MAX_LINE, f"{len(line)} bytes is over the 16 KiB cap"
    doc = json.loads(line, parse_constant=_refuse)
    assert isinstance(doc, dict)
    meta = doc["_aws"]
    assert isinstance(meta["Timestamp"], int)
    assert not isinstance(meta["Timestamp"], bool)
    (directive,) = meta["CloudWatchMetrics"]
    assert 1 <= len(directive["Metrics"]) <= 100
    for dims in directive["Dimensions"]:
        assert len(dims) <= 30
        for key in dims:
            value = doc[key]
            assert isinstance(value, str)
            assert value.strip()
            assert len(value) <= 1024
            assert all(" " <= ch <= "~" for ch in value)
    for metric in directive["Metrics"]:
        assert metric["Unit"] in UNITS
        values = doc[metric["Name"]]
        values = values if isinstance(values, list) else [values]
        assert 1 <= len(values) <= 100
        for value in values:
            assert isinstance(value, int | float)
            assert not isinstance(value, bool)
            assert math.isfinite(value)
            assert abs(value) <= 2.0**360
    return doc


def _refuse(token: str) -> None:
    raise AssertionError(f"{token} in output")


def metric_values(docs: Sequence[dict[str, Any]], name: str) -> list[float]:
    """Every value of metric ``name`` across ``docs`` (arrays flattened)."""
    out: list[float] = []
    for doc in docs:
        if name in doc and any(
            m["Name"] == name for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        ):
            value = doc[name]
            out.extend(value if isinstance(value, list) else [value])
    return out


def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def simulator_command(*args: str) -> str:
    """A --monitor-command running the bundled simulator with ``args``."""
    return " ".join([sys.executable, "-m", "emf_neuron.simulator", *args])


class SidecarProcess:
    """``python -m emf_neuron ARGS`` (or any ``argv``) as a real process.

    Its stdout and stderr lines are collected by threads; ``arrivals[i]`` is the wall-clock time
    at which ``stdout[i]`` was read. With ``read_stdout=False`` nobody reads stdout (a blocked
    log driver).
    """

    def __init__(
        self,
        args: Sequence[str],
        env: dict[str, str] | None = None,
        *,
        argv: Sequence[str] | None = None,
        stdin: int | IO[bytes] = subprocess.DEVNULL,
        read_stdout: bool = True,
    ) -> None:
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        command = list(argv) if argv is not None else [sys.executable, "-m", "emf_neuron", *args]
        self.proc = subprocess.Popen(
            command,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=REPO,
        )
        self.stdout: list[bytes] = []
        self.stderr: list[bytes] = []
        self.arrivals: list[float] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr), daemon=True)
        ]
        if read_stdout:
            self._threads.append(threading.Thread(target=self._timed_pump, daemon=True))
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream: Any, sink: list[bytes]) -> None:
        for line in iter(stream.readline, b""):
            sink.append(line)

    def _timed_pump(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.arrivals.append(time.time())
            self.stdout.append(line)

    def docs(self) -> list[dict[str, Any]]:
        """Every complete stdout line, checked as EMF."""
        return [check_emf(line.rstrip(b"\n")) for line in list(self.stdout) if line.endswith(b"\n")]

    def logs(self) -> list[dict[str, Any]]:
        """Every stderr record (each must be one JSON object)."""
        return [json.loads(line) for line in list(self.stderr)]

    def log_messages(self) -> list[str]:
        """The ``Message`` of every stderr record."""
        return [str(record["Message"]) for record in self.logs()]

    def values(self, name: str) -> list[float]:
        """Every published value of metric ``name`` so far."""
        return metric_values(self.docs(), name)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the exit code (kill after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for thread in self._threads:
                thread.join(5)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
        return code
