"""``python -m bench``: measure emf-neuron's cost and print a table (or ``--json``).

Default run: per-report CPU of the in-process path for three workloads, steady-state RSS and CPU
of the real sidecar at a 5 s and a 1 s period, and the import cost of the sidecar path.
``--soak-minutes N`` runs the soak instead and exits 1 if a resource grew.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
from dataclasses import asdict

from bench.micro import WORKLOADS, measure
from bench.process import import_cost, steady_state
from bench.soak import soak


def _machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def _run_all(window: float, repeats: int) -> dict[str, object]:
    micro = [measure(name, repeats) for name in WORKLOADS]
    processes = [
        steady_state(scenario, period, warmup=max(12.0, 3 * period), window=window)
        for scenario in ("idle", "inf1.xlarge", "trn1n.32xlarge-busy")
        for period in (5.0, 1.0)
    ]
    return {
        "machine": _machine(),
        "micro": [asdict(m) for m in micro],
        "process": [asdict(p) for p in processes],
        "imports": asdict(import_cost()),
    }


def _table(result: dict[str, object]) -> str:
    lines = [f"machine: {result['machine']}", ""]
    lines.append("per report (CPU, median)   bytes    path     path@60s  json.loads  ref.handler")
    for m in result["micro"]:  # type: ignore[attr-defined]
        ms = {k: m[k] * 1e3 for k in m if k.endswith("_seconds")}
        vs_loads = m["pipeline_seconds"] / m["json_loads_seconds"]
        vs_ref = m["pipeline_seconds"] / m["reference_seconds"]
        lines.append(
            f"{m['workload']:<25} {m['line_bytes']:>7}  {ms['pipeline_seconds']:6.3f}ms"
            f"  {ms['pipeline_interval_seconds']:6.3f}ms  {ms['json_loads_seconds']:7.3f}ms"
            f"  {ms['reference_seconds']:7.3f}ms   = {vs_loads:.2f}x json.loads, {vs_ref:.2f}x ref"
        )
    lines += ["", "sidecar process            period   RSS      CPU of one core"]
    for p in result["process"]:  # type: ignore[attr-defined]
        lines.append(
            f"{p['scenario']:<25} {p['period_seconds']:5.1f} s  {p['rss_mib']:5.1f} MiB"
            f"  {p['cpu_percent']:6.3f} %"
        )
    lines += ["", f"import of the sidecar path: {result['imports']}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or the soak); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--window-seconds", type=float, default=60.0, help="CPU/RSS window")
    parser.add_argument("--repeats", type=int, default=7, help="repeats of each micro benchmark")
    parser.add_argument("--soak-minutes", type=float, help="run the soak for this long instead")
    parser.add_argument("--sample-seconds", type=float, default=60.0, help="soak sampling period")
    args = parser.parse_args(argv)
    logging.getLogger("emf_neuron").setLevel(logging.ERROR)  # the samples' own group errors
    if args.soak_minutes:
        result = soak(args.soak_minutes, args.sample_seconds)
        body = {"machine": _machine(), "samples": [[t, asdict(u)] for t, u in result.samples],
                "problems": list(result.problems), "exit_code": result.exit_code,
                "monitor_starts": result.starts, "hang_stops": result.hang_stops}  # fmt: skip
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return 0 if result.ok else 1
    measured = _run_all(args.window_seconds, args.repeats)
    sys.stdout.write(json.dumps(measured, indent=2) + "\n" if args.json else _table(measured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
