"""What the simulated neuron-monitor says over time: moving templates, error reports, garbage.

Owns report *content* only; the templates come from ``emf_neuron.sample_reports``, pacing, fault
timing and the CLI live in ``emf_neuron.simulator``. Must import nothing but the standard library
and ``sample_reports`` (no pipeline module): the simulator is the test double of the code it
feeds, so it must not share that code's bugs.
"""

from __future__ import annotations

import math
import random

from emf_neuron.sample_reports import GROUP_ERRORS, Json

_UTIL_CYCLE_REPORTS = 60.0  # one slow sine period per core, in reports


def _moved_utilization(base: float, index: int, phase: float, rng: random.Random) -> float:
    amplitude = 5.0 + 0.15 * base
    centre = max(base, amplitude)
    wave = math.sin(2 * math.pi * index / _UTIL_CYCLE_REPORTS + phase)
    return min(100.0, max(0.0, centre + amplitude * wave + rng.gauss(0.0, 1.0)))


def _move_cores(counters: Json, index: int, runtime_no: int, rng: random.Random) -> None:
    in_use = counters.get("neuroncores_in_use")
    if not isinstance(in_use, dict):
        return
    for key, core in in_use.items():
        base = core.get("neuroncore_utilization") if isinstance(core, dict) else None
        if not isinstance(base, int | float) or base <= 0:
            continue  # an idle core stays idle
        phase = 0.9 * (runtime_no * 7 + (int(key) if key.isdigit() else 0))
        util = _moved_utilization(float(base), index, phase, rng)
        for flops_key in ("flops", "effective_flops"):
            if isinstance(core.get(flops_key), int | float):
                core[flops_key] = int(core[flops_key] * util / base)
        core["neuroncore_utilization"] = util


def _move_completed(stats: Json, index: int, runtime_no: int, rng: random.Random) -> None:
    summary = stats.get("execution_summary")
    base = summary.get("completed") if isinstance(summary, dict) else None
    if not isinstance(summary, dict) or not isinstance(base, int) or base <= 0:
        return
    wave = 1.0 + 0.2 * math.sin(2 * math.pi * index / 45.0 + runtime_no)
    summary["completed"] = max(0, round(base * wave + rng.gauss(0.0, max(1.0, base * 0.02))))


def _set_periods(groups: object, period: float, rng: random.Random) -> None:
    if not isinstance(groups, dict):
        return
    for group in groups.values():
        if isinstance(group, dict) and "period" in group:
            group["period"] = period * (1.0 + rng.uniform(-1e-4, 1.5e-4))


def animate(report: Json, index: int, period: float, rng: random.Random) -> Json:
    """Move a fresh template copy to report number ``index`` (in place; also returned).

    Busy cores follow a slow per-core sine plus noise (idle ones stay 0), ``completed`` varies,
    and every group's ``period`` becomes ``period`` plus a tiny jitter. Deterministic per ``rng``.
    """
    runtimes = report.get("neuron_runtime_data")
    for runtime_no, runtime in enumerate(runtimes if isinstance(runtimes, list) else []):
        groups = runtime.get("report") if isinstance(runtime, dict) else None
        if not isinstance(groups, dict):
            continue
        if isinstance(groups.get("neuroncore_counters"), dict):
            _move_cores(groups["neuroncore_counters"], index, runtime_no, rng)
        if isinstance(groups.get("execution_stats"), dict):
            _move_completed(groups["execution_stats"], index, runtime_no, rng)
        _set_periods(groups, period, rng)
    _set_periods(report.get("system_data"), period, rng)
    return report


def _error_group(name: str, period: float, pid: object = "") -> Json:
    message = GROUP_ERRORS.get(name, "simulated failure collecting {name}")
    return {"period": period, "error": message.format(pid=pid, name=name)}


def error_report(template: Json, period: float) -> Json:
    """A well-formed report in which every group and section has an ``error`` and no data."""
    runtimes = []
    for runtime in template.get("neuron_runtime_data") or []:
        pid = runtime.get("pid", 0)
        groups = runtime.get("report") or {}
        runtimes.append(
            {
                "pid": pid,
                "neuron_runtime_tag": runtime.get("neuron_runtime_tag", str(pid)),
                "error": f"simulated failure reading the runtime of pid {pid}",
                "report": {name: _error_group(name, period, pid) for name in groups},
            }
        )
    system = template.get("system_data") or {}
    return {
        "neuron_runtime_data": runtimes,
        "system_data": {name: _error_group(name, period) for name in system},
        "instance_info": {"error": "simulated failure: instance metadata service unreachable"},
        "neuron_hardware_info": {"error": "simulated failure: the Neuron driver is not loaded"},
    }


def garbage_line(index: int, report_line: bytes) -> bytes:
    """Garbage number ``index``: not JSON, an array, truncated JSON, bad UTF-8, or ``NaN``."""
    kind = index % 5
    if kind == 0:
        return b"neuron-monitor: this line is not JSON at all\n"
    if kind == 1:
        return b'[{"neuron_runtime_data":[]},1,2,3]\n'
    if kind == 2:
        return report_line[: max(1, len(report_line) // 2)].rstrip(b"\n") + b"\n"
    if kind == 3:
        return b'{"neuron_runtime_data":[],"instance_info":{"instance_name":"\xff\xfe\xc3("}}\n'
    return b'{"neuron_runtime_data":[],"system_data":{"memory_info":{"period":NaN,"error":""}}}\n'
