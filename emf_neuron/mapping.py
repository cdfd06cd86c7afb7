"""The metric catalogue and the mapping of one ``Report`` to metric samples; pure, no I/O.

Metric names and units are part of the public interface (README, "Metrics"). This module decides
*what* is measured per report; ``interval`` decides how samples are combined over a publish
interval, and ``emf`` how they are written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from emf_neuron.report import Report, RuntimeReport

Unit = Literal["Percent", "Bytes", "Count", "Seconds", "None"]
Kind = Literal["gauge", "counter", "health"]
Scope = Literal["core", "task"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A published metric: gauges keep every sample, counters are summed over the interval."""

    name: str
    unit: Unit
    kind: Kind
    scope: Scope
    description: str


@dataclass(frozen=True, slots=True)
class Sample:
    """One observation of one metric in one report; ``core`` is set for per-core metrics."""

    metric: str
    value: float
    core: str | None = None


def _spec(name: str, unit: Unit, kind: Kind, scope: Scope, description: str) -> MetricSpec:
    return MetricSpec(name, unit, kind, scope, description)


CATALOGUE: tuple[MetricSpec, ...] = (
    _spec(
        "NeuronCoreUtilization",
        "Percent",
        "gauge",
        "core",
        "Busy time of the NeuronCore; the maximum over the runtimes that report the core.",
    ),
    _spec(
        "NeuronCoreMemoryUsed",
        "Bytes",
        "gauge",
        "core",
        "Device memory on the core (constants, code, scratchpad, runtime, tensors), all runtimes.",
    ),
    _spec(
        "NeuronRuntimeHostMemoryUsed",
        "Bytes",
        "gauge",
        "task",
        "Host memory used by the Neuron runtimes, summed over runtimes.",
    ),
    _spec(
        "NeuronRuntimeDeviceMemoryUsed",
        "Bytes",
        "gauge",
        "task",
        "Neuron device memory used by the runtimes, summed over runtimes.",
    ),
    _spec(
        "ExecutionsCompleted",
        "Count",
        "counter",
        "task",
        "Executions completed in the interval, all runtimes.",
    ),
    _spec(
        "ExecutionErrors",
        "Count",
        "counter",
        "task",
        "Failed executions in the interval, all error types and runtimes.",
    ),
    _spec(
        "ExecutionLatencyP50",
        "Seconds",
        "gauge",
        "task",
        "Median end-to-end execution latency; the maximum over runtimes; absent when idle.",
    ),
    _spec(
        "ExecutionLatencyP99",
        "Seconds",
        "gauge",
        "task",
        "99th percentile end-to-end latency; the maximum over runtimes; absent when idle.",
    ),
    _spec(
        "HardwareEccErrorsCorrected",
        "Count",
        "counter",
        "task",
        "Corrected ECC events (device DRAM + SRAM) in the interval, all devices.",
    ),
    _spec(
        "HardwareEccErrorsUncorrected",
        "Count",
        "counter",
        "task",
        "Uncorrected ECC events (device DRAM + SRAM) in the interval, all devices.",
    ),
    _spec(
        "MonitorUp",
        "None",
        "health",
        "task",
        "1 while neuron-monitor delivers valid reports in time, else 0. Emitted even when down.",
    ),
    _spec(
        "MonitorRestarts",
        "Count",
        "health",
        "task",
        "Restarts of neuron-monitor (after an exit, a hang or a failed start) in the interval.",
    ),
    _spec(
        "ReportAgeSeconds",
        "Seconds",
        "health",
        "task",
        "Seconds since the last valid report (since start-up if there was none).",
    ),
    _spec(
        "ReportErrors",
        "Count",
        "health",
        "task",
        "Lines and values rejected from neuron-monitor output in the interval.",
    ),
)
SPECS: dict[str, MetricSpec] = {spec.name: spec for spec in CATALOGUE}


def map_report(report: Report, metrics: frozenset[str]) -> tuple[Sample, ...]:
    """Every sample of the selected ``metrics`` that ``report`` has data for."""
    samples: list[Sample] = []
    for mapper in _MAPPERS:
        samples.extend(s for s in mapper(report) if s.metric in metrics)
    return tuple(samples)


def _core_samples(report: Report) -> Iterable[Sample]:
    utilization: dict[str, float] = {}
    memory: dict[str, float] = {}
    for runtime in report.runtimes:
        for core in runtime.cores:
            if core.utilization_percent is not None:
                previous = utilization.get(core.core, 0.0)
                utilization[core.core] = max(previous, core.utilization_percent)
        breakdown = runtime.memory.core_breakdown if runtime.memory else {}
        for core_name, categories in breakdown.items():
            memory[core_name] = memory.get(core_name, 0.0) + sum(categories.values())
    for core_name, value in utilization.items():
        yield Sample("NeuronCoreUtilization", value, core_name)
    for core_name, value in memory.items():
        yield Sample("NeuronCoreMemoryUsed", value, core_name)


def _sum(
    name: str, runtimes: Iterable[RuntimeReport], pick: Callable[[RuntimeReport], float | None]
) -> Iterable[Sample]:
    values = [v for r in runtimes if (v := pick(r)) is not None]
    if values:
        yield Sample(name, sum(values))


def _runtime_samples(report: Report) -> Iterable[Sample]:
    runtimes = report.runtimes
    yield from _sum("NeuronRuntimeHostMemoryUsed", runtimes, lambda r: _memory(r, host=True))
    yield from _sum("NeuronRuntimeDeviceMemoryUsed", runtimes, lambda r: _memory(r, host=False))
    yield from _sum(
        "ExecutionsCompleted",
        runtimes,
        lambda r: r.execution.statuses.get("completed") if r.execution else None,
    )
    yield from _sum(
        "ExecutionErrors",
        runtimes,
        lambda r: sum(r.execution.errors.values()) if r.execution else None,
    )
    for percentile, name in (("p50", "ExecutionLatencyP50"), ("p99", "ExecutionLatencyP99")):
        values = [
            v
            for r in runtimes
            if r.execution and r.execution.total_latency
            if (v := r.execution.total_latency.get(percentile)) is not None
        ]
        if values:
            yield Sample(name, max(values))


def _memory(runtime: RuntimeReport, *, host: bool) -> float | None:
    if runtime.memory is None:
        return None
    return runtime.memory.host_bytes if host else runtime.memory.device_bytes


def _ecc_samples(report: Report) -> Iterable[Sample]:
    if report.ecc is None:
        return
    corrected = uncorrected = 0.0
    for device in report.ecc:
        for key, value in device.counts.items():
            if key.endswith("_uncorrected"):
                uncorrected += value
            else:
                corrected += value
    yield Sample("HardwareEccErrorsCorrected", corrected)
    yield Sample("HardwareEccErrorsUncorrected", uncorrected)


_MAPPERS: tuple[Callable[[Report], Iterable[Sample]], ...] = (
    _core_samples,
    _runtime_samples,
    _ecc_samples,
)
