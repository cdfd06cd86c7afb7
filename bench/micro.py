"""In-process CPU cost per report: the whole path against json.loads and a reference handler.

The path is frame -> parse -> map -> interval -> documents -> render -> a null sink, with one
report per publish interval (the worst case: every report serialized). The floor is
``json.loads`` of the same line; the reference handler is what AWS's Prometheus exporter does per
line: ``json.loads`` and a walk over every runtime, core, error type and latency percentile.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emf_neuron.catalogue import PROFILES
from emf_neuron.interval import Health, Layout
from emf_neuron.pipeline import Pipeline
from emf_neuron.plan import sample_report

WORKLOADS = {"idle": "idle", "inf1-1runtime": "inf1.xlarge", "trn1n-busy": "trn1n.32xlarge-busy"}
_HEALTH = Health(up=True, restarts=0, report_age_seconds=0.0, report_errors=0)


@dataclass(frozen=True, slots=True)
class MicroResult:
    """Median CPU seconds per report of each handler for one workload."""

    workload: str
    line_bytes: int
    pipeline_seconds: float
    pipeline_interval_seconds: float
    json_loads_seconds: float
    reference_seconds: float


def _per_call(func: Callable[[], object], calls: int, repeats: int) -> float:
    """Median over ``repeats`` of CPU seconds per call."""
    samples = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(calls):
            func()
        samples.append((time.process_time() - started) / calls)
    return statistics.median(samples)


def _pipeline_handler(line: bytes, reports_per_publish: int) -> Callable[[], object]:
    pipeline = Pipeline("NeuronMonitor", PROFILES["standard"], Layout(), 4 * 1024 * 1024)
    sink: list[bytes] = []

    def handle() -> None:
        for _ in range(reports_per_publish):
            pipeline.feed(line)
        for rendered in pipeline.render(pipeline.documents(_HEALTH), 1_764_000_000_000):
            sink.append(rendered)
        sink.clear()

    return handle


def reference_handler(line: bytes) -> dict[str, float]:
    """json.loads + visit every value an exporter would publish (neuron-monitor-prometheus.py)."""
    report: dict[str, Any] = json.loads(line)
    gauges: dict[str, float] = {}
    for runtime in report.get("neuron_runtime_data", []):
        tag = runtime.get("neuron_runtime_tag", "")
        body = runtime.get("report", {})
        cores = body.get("neuroncore_counters", {}).get("neuroncores_in_use", {})
        for core, data in cores.items():
            gauges[f"util/{tag}/{core}"] = data.get("neuroncore_utilization", 0) / 100
        stats = body.get("execution_stats", {})
        for kind, value in stats.get("error_summary", {}).items():
            gauges[f"err/{tag}/{kind}"] = value
        for kind, value in stats.get("execution_summary", {}).items():
            gauges[f"status/{tag}/{kind}"] = value
        for pct, value in (stats.get("latency_stats", {}).get("total_latency") or {}).items():
            gauges[f"lat/{tag}/{pct}"] = value
        used = body.get("memory_used", {}).get("neuron_runtime_used_bytes", {})
        per_core = used.get("usage_breakdown", {}).get("neuroncore_memory_usage", {})
        for core, categories in per_core.items():
            for kind, value in categories.items():
                gauges[f"mem/{tag}/{core}/{kind}"] = value
    return gauges


def measure(workload: str, repeats: int = 7) -> MicroResult:
    """Measure one workload (see ``WORKLOADS``)."""
    line = sample_report(WORKLOADS[workload]).rstrip(b"\n") + b"\n"
    calls = 20 if len(line) > 100_000 else 400
    return MicroResult(
        workload=workload,
        line_bytes=len(line),
        pipeline_seconds=_per_call(_pipeline_handler(line, 1), calls, repeats),
        pipeline_interval_seconds=_per_call(_pipeline_handler(line, 12), calls // 4, repeats) / 12,
        json_loads_seconds=_per_call(lambda: json.loads(line), calls, repeats),
        reference_seconds=_per_call(lambda: reference_handler(line), calls, repeats),
    )
