"""What the simulated neuron-monitor says: bundled templates, the busy trn1n report, motion, faults.

Owns report *content* only; pacing, fault timing and the CLI live in ``emf_neuron.simulator``.
Must import nothing but the standard library (no other emf_neuron module): the simulator is the
test double of the code it feeds, so it must not share that code's bugs.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from importlib import resources
from typing import Any

Json = dict[str, Any]

BUSY_SCENARIO = "trn1n.32xlarge-busy"
SCENARIOS = ("idle", "inf1.xlarge", "inf2.xlarge", "trn1.2xlarge", "trn1n.32xlarge", BUSY_SCENARIO)

_PERCENTILES = ("p0", "p1", "p100", "p25", "p50", "p75", "p99")  # neuron-monitor's key order
_PERCENTILE_SCALE = (0.91, 0.93, 1.62, 0.97, 1.0, 1.04, 1.31)
_UTIL_CYCLE_REPORTS = 60.0  # one slow sine period per core, in reports
_GROUP_ERRORS = {
    "neuron_runtime_vcpu_usage": "open /proc/{pid}/stat: no such file or directory",
    "vcpu_usage": "open /proc/stat: no such file or directory",
    "memory_info": "open /proc/meminfo: no such file or directory",
    "neuron_hw_counters": "failed to read hardware counters: no Neuron device found",
}


def load_template(scenario: str) -> Json:
    """Return a fresh copy of the report template of ``scenario`` (one of ``SCENARIOS``).

    Raises:
        ValueError: unknown scenario.
        TypeError: the bundled file is not a JSON object.
    """
    if scenario == BUSY_SCENARIO:
        return build_busy_report()
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    path = resources.files("emf_neuron") / "samples" / f"{scenario}.json"
    loaded = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise TypeError(f"bundled sample {scenario!r} is not a JSON object")
    return loaded


def compact(report: Json) -> bytes:
    """Serialize one report the way neuron-monitor does: compact JSON, one line, ``\\n``."""
    return json.dumps(report, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def _hex_id(*parts: object) -> str:
    """A stable 32-hex-digit id (model uuids) derived from ``parts``."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _percentiles(base_seconds: float) -> dict[str, float]:
    return {
        k: round(base_seconds * s, 9) for k, s in zip(_PERCENTILES, _PERCENTILE_SCALE, strict=True)
    }


def _busy_core_counters(own: int, cores: int) -> Json:
    in_use: Json = {}
    for core in range(cores):
        util = 35.0 + (own * 37 % 55) + own / 100 if core == own else 0
        flops = int(util * 1.9e11)
        in_use[str(core)] = {
            "neuroncore_utilization": util,
            "flops": flops,
            "effective_flops": int(flops * 0.87),
        }
    return {"period": 5.000113182, "neuroncores_in_use": in_use, "error": ""}


def _busy_execution_stats(own: int) -> Json:
    return {
        "period": 4.999666547,
        "error_summary": {
            "generic": own % 3,
            "numerical": 0,
            "transient": 0,
            "model": 0,
            "runtime": 0,
            "hardware": 0,
        },
        "execution_summary": {
            "completed": 400 + own * 13,
            "completed_with_err": own % 3,
            "completed_with_num_err": 0,
            "timed_out": 0,
            "incorrect_input": 0,
            "failed_to_queue": 0,
        },
        "latency_stats": {
            "total_latency": _percentiles(0.0121 + own / 10000),
            "device_latency": _percentiles(0.0104 + own / 10000),
        },
        "error": "",
    }


def _busy_model(own: int, index: int) -> Json:
    device_bytes = 24064 + index * 4096
    return {
        "name": f"2.13.66.0+9e3fdb8e4-/tmp/neuroncc_compile_workdir/{_hex_id(own, index)}"
        f"/model.MODULE_{1000 + index}+d41d8cd9.neff",
        "uuid": _hex_id("uuid", own, index),
        "model_id": 10001 + index,
        "is_running": index == 0,
        "subgraphs": {
            "sg_00": {
                "memory_used_bytes": {
                    "host": 20480,
                    "neuron_device": device_bytes,
                    "usage_breakdown": {
                        "host": {
                            "application_memory": 20480,
                            "constants": 0,
                            "dma_buffers": 0,
                            "tensors": 0,
                        },
                        "neuron_device": {
                            "constants": 0,
                            "model_code": device_bytes,
                            "runtime_memory": 0,
                            "tensors": 0,
                        },
                    },
                },
                "neuroncore_index": own % 2,
                "neuron_device_index": own // 2,
            }
        },
    }


def _busy_memory_used(own: int, models: int) -> Json:
    core_usage = {"constants": 0, "model_code": 100752896, "runtime_memory": 0, "tensors": 9912852}
    breakdown = {
        str(core): {**core_usage, "model_shared_scratchpad": 0} for core in sorted({own, own ^ 1})
    }
    host = {"application_memory": 655360, "constants": 0, "dma_buffers": 8388608, "tensors": 0}
    return {
        "period": 4.999671285,
        "neuron_runtime_used_bytes": {
            "host": sum(host.values()),
            "neuron_device": sum(sum(v.values()) for v in breakdown.values()),
            "usage_breakdown": {"host": host, "neuroncore_memory_usage": breakdown},
        },
        "loaded_models": [_busy_model(own, index) for index in range(models)],
        "error": "",
    }


def _busy_runtime(own: int, cores: int, models: int) -> Json:
    pid = 457402 + own * 11
    return {
        "pid": pid,
        "neuron_runtime_tag": str(own),
        "error": "",
        "report": {
            "execution_stats": _busy_execution_stats(own),
            "memory_used": _busy_memory_used(own, models),
            "neuron_runtime_vcpu_usage": {
                "period": 4.999647382,
                "vcpu_usage": {"user": 0, "system": 0},
                "error": _GROUP_ERRORS["neuron_runtime_vcpu_usage"].format(pid=pid),
            },
            "neuroncore_counters": _busy_core_counters(own, cores),
        },
    }


def build_busy_report(cores: int = 32, models_per_runtime: int = 20) -> dict[str, object]:
    """A busy trn1n.32xlarge report: one runtime per NeuronCore, each listing every core.

    Synthesized (deterministically) from the bundled trn1n.32xlarge sample, whose system data,
    instance and hardware sections it keeps. With the defaults it is ~445 KB compact, the size the
    reference measured for 32 processes with 20 ``loaded_models`` each.
    """
    report = load_template("trn1n.32xlarge")
    report["neuron_runtime_data"] = [
        _busy_runtime(own, cores, models_per_runtime) for own in range(cores)
    ]
    return report


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
    message = _GROUP_ERRORS.get(name, "simulated failure collecting {name}")
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
