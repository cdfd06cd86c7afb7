"""Recorded neuron-monitor reports as templates, and the synthetic busy trn1n.32xlarge report.

Report *content* only, standard library only: shared by the simulated monitor (the test double,
which must not share the pipeline's code or bugs), by ``plan`` and by the benchmarks. The samples
are the files in ``emf_neuron/samples`` (their README gives the provenance).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

Json = dict[str, Any]

# What a monitor inside a container, or without a device, writes in a failed group's `error`.
GROUP_ERRORS = {
    "neuron_runtime_vcpu_usage": "open /proc/{pid}/stat: no such file or directory",
    "vcpu_usage": "open /proc/stat: no such file or directory",
    "memory_info": "open /proc/meminfo: no such file or directory",
    "neuron_hw_counters": "failed to read hardware counters: no Neuron device found",
}
BUSY_SCENARIO = "trn1n.32xlarge-busy"
SCENARIOS = ("idle", "inf1.xlarge", "inf2.xlarge", "trn1.2xlarge", "trn1n.32xlarge", BUSY_SCENARIO)

_PERCENTILES = ("p0", "p1", "p100", "p25", "p50", "p75", "p99")  # neuron-monitor's key order
_PERCENTILE_SCALE = (0.91, 0.93, 1.62, 0.97, 1.0, 1.04, 1.31)


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
                "error": GROUP_ERRORS["neuron_runtime_vcpu_usage"].format(pid=pid),
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
