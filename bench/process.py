"""Measurements of the real sidecar process: RSS, CPU share of one core, FDs, threads, children.

Each run starts ``python -m emf_neuron run`` against the bundled simulator and reads /proc, so
the figures are those of the process an operator deploys (the simulator's own cost excluded).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Usage:
    """One sample of a process's resources."""

    rss_kib: int
    cpu_seconds: float
    fds: int
    threads: int
    children: int


def usage(pid: int) -> Usage:
    """Read /proc for ``pid`` (and count its direct children)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    children = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                their = (entry / "stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
            except OSError:
                continue
            children += their[1] == str(pid)
    return Usage(
        rss_kib=int(fields["VmRSS"].split()[0]),
        cpu_seconds=(int(stat[11]) + int(stat[12])) / CLOCK_TICKS,
        fds=sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir()),
        threads=int(fields["Threads"]),
        children=children,
    )


def start_sidecar(
    scenario: str, period: float, publish: float, *extra: str, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """The sidecar against the simulator; stdout to /dev/null, its log to ``log`` if given."""
    monitor = [sys.executable, "-m", "emf_neuron.simulator", "--scenario", scenario,
               "--period-seconds", str(period), *extra]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "emf_neuron", "run", "--monitor-command", shlex.join(monitor),
         "--period-seconds", str(period), "--publish-interval-seconds", str(publish)],
        stdout=subprocess.DEVNULL,
        stderr=log if log is not None else subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM and wait (the sidecar stops its child itself)."""
    process.terminate()
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@dataclass(frozen=True, slots=True)
class SteadyState:
    """RSS and CPU of the sidecar over a measuring window after a warm-up."""

    scenario: str
    period_seconds: float
    rss_mib: float
    cpu_percent: float


def steady_state(scenario: str, period: float, warmup: float, window: float) -> SteadyState:
    """Run, warm up, then measure CPU over ``window`` seconds and the RSS at its end."""
    process = start_sidecar(scenario, period, 60.0)
    try:
        time.sleep(warmup)
        before, started = usage(process.pid), time.monotonic()
        time.sleep(window)
        after, elapsed = usage(process.pid), time.monotonic() - started
    finally:
        stop(process)
    cpu = (after.cpu_seconds - before.cpu_seconds) / elapsed * 100
    return SteadyState(scenario, period, after.rss_kib / 1024, cpu)


@dataclass(frozen=True, slots=True)
class ImportCost:
    """Start-up cost of the sidecar's code path."""

    seconds: float
    max_rss_mib: float
    boto3_imported: bool
    aiohttp_imported: bool


def import_cost(repeats: int = 5) -> ImportCost:
    """Median import time and max RSS of ``emf_neuron.cli`` in a fresh interpreter."""
    code = (
        "import resource, sys, time\n"
        "t = time.perf_counter()\n"
        "import emf_neuron.cli, emf_neuron.commands\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
        " 'boto3' in sys.modules, 'aiohttp' in sys.modules)"
    )
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
        ).stdout.split()
        runs.append((float(out[0]), int(out[1]) / 1024, out[2] == "True", out[3] == "True"))
    runs.sort()
    seconds, rss, boto3, aiohttp = runs[len(runs) // 2]
    return ImportCost(seconds, rss, boto3, aiohttp)
