"""Soak: the sidecar against a simulator that crashes and hangs at random, at 10x the rate.

Samples RSS, FDs, threads and children every ``sample_seconds`` and fails if any of them grows:
after a warm-up, the last third of the samples must not exceed the first third by more than a
small allowance (RSS: 2 MiB, for allocator noise; FDs, threads: 0; children: never above 1).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass

from bench.process import Usage, start_sidecar, stop, usage

RSS_ALLOWANCE_KIB = 2048


@dataclass(frozen=True, slots=True)
class SoakResult:
    """The samples, and the verdict."""

    samples: tuple[tuple[float, Usage], ...]
    problems: tuple[str, ...]
    exit_code: int
    starts: int = 0
    hang_stops: int = 0

    @property
    def ok(self) -> bool:
        """No resource grew and the sidecar stopped cleanly."""
        return not self.problems and self.exit_code == 0


def soak(minutes: float, sample_seconds: float = 60.0, seed: int = 1) -> SoakResult:
    """Run the soak; the simulator reports every 0.5 s (10x the default 5 s period)."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the counts are read
    process = start_sidecar(
        "trn1.2xlarge", 0.5, 6.0,
        "--chaos-seed", str(seed), "--crash-probability", "0.01", "--hang-probability", "0.005",
        log=log,
    )  # fmt: skip
    samples: list[tuple[float, Usage]] = []
    started = time.monotonic()
    try:
        time.sleep(min(30.0, sample_seconds))  # warm-up: imports, first restarts
        while True:
            samples.append((time.monotonic() - started, usage(process.pid)))
            if time.monotonic() - started >= minutes * 60:
                break
            time.sleep(sample_seconds)
    finally:
        code = stop(process)
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
        log.close()
    problems = tuple(_problems([u for _, u in samples]))
    starts = text.count("started neuron-monitor")
    hangs = text.count("no valid report")
    return SoakResult(tuple(samples), problems, code, starts, hangs)


def _problems(samples: list[Usage]) -> list[str]:
    if len(samples) < 3:
        return ["too few samples to judge (run longer)"]
    third = max(1, len(samples) // 3)
    first, last = samples[:third], samples[-third:]
    problems = []
    for name, allowance in (("rss_kib", RSS_ALLOWANCE_KIB), ("fds", 0), ("threads", 0)):
        before = statistics.median(getattr(u, name) for u in first)
        after = statistics.median(getattr(u, name) for u in last)
        if after > before + allowance:
            problems.append(f"{name} grew from {before} to {after}")
    if max(u.children for u in samples) > 1:
        problems.append(f"up to {max(u.children for u in samples)} children (at most 1 expected)")
    return problems
