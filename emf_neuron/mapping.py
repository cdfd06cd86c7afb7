"""Map one ``Report`` to metric samples; pure, no I/O.

This module decides *what* is measured per report; ``interval`` decides how samples combine over a
publish interval, and ``emf`` how they are written. Per core, utilization is the maximum over the
runtimes (every process lists every visible core, with 0 for cores it does not use) and memory
and FLOPS are sums; cores the hardware has but no runtime reports are zero-filled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from emf_neuron.catalogue import (
    CATALOGUE,
    PERCENTILES,
    SPECS,
    MetricSpec,
    Unit,
    error_metric,
    latency_metric,
    status_metric,
)
from emf_neuron.report import Report, RuntimeReport

__all__ = ["CATALOGUE", "SPECS", "MetricSpec", "Sample", "Unit", "map_report"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One observation of one metric in one report, per core, device or runtime tag if set."""

    metric: str
    value: float
    core: str | None = None
    device: str | None = None
    runtime_tag: str | None = None


def map_report(
    report: Report, metrics: frozenset[str], runtime_tags: re.Pattern[str] | None = None
) -> tuple[Sample, ...]:
    """Every sample of the selected ``metrics`` that ``report`` has data for.

    With ``runtime_tags``, runtimes whose tag fully matches also get per-tag task samples.
    """
    samples = [*_core_samples(report), *_runtime_samples(report.runtimes)]
    samples += [*_ecc_samples(report), *_host_samples(report)]
    if runtime_tags is not None:
        samples += _tagged_samples(report.runtimes, runtime_tags)
    return tuple(s for s in samples if s.metric in metrics)


def _core_samples(report: Report) -> Iterable[Sample]:
    utilization: dict[str, float] = {}
    sums: dict[str, dict[str, float]] = {"NeuronCoreFlops": {}, "NeuronCoreEffectiveFlops": {}}
    memory: dict[str, float] = {}
    for runtime in report.runtimes:
        for core in runtime.cores:
            if core.utilization_percent is not None:
                utilization[core.core] = max(
                    utilization.get(core.core, 0.0), core.utilization_percent
                )
            for name, value in (("NeuronCoreFlops", core.flops),
                                ("NeuronCoreEffectiveFlops", core.effective_flops)):  # fmt: skip
                if value is not None:
                    sums[name][core.core] = sums[name].get(core.core, 0.0) + value
        breakdown = runtime.memory.core_breakdown if runtime.memory else {}
        for core_name, categories in breakdown.items():
            memory[core_name] = memory.get(core_name, 0.0) + sum(categories.values())
    _zero_fill(report, utilization, memory)
    per_core = {"NeuronCoreUtilization": utilization, "NeuronCoreMemoryUsed": memory, **sums}
    for name, values in per_core.items():
        yield from (Sample(name, value, core=core) for core, value in values.items())


def _zero_fill(report: Report, utilization: dict[str, float], memory: dict[str, float]) -> None:
    """Idle cores get 0, not a gap in the dashboard; a core whose group failed is not idle."""
    failed = set(report.group_errors)
    for core_name in _known_cores(report):
        if not failed & {"runtime", "neuroncore_counters"}:
            utilization.setdefault(core_name, 0.0)
        if not failed & {"runtime", "memory_used"}:
            memory.setdefault(core_name, 0.0)


def _known_cores(report: Report) -> Iterable[str]:
    hardware = report.hardware
    if hardware is None or not hardware.device_count or not hardware.cores_per_device:
        return ()
    return (str(i) for i in range(min(hardware.device_count * hardware.cores_per_device, 1024)))


def _total(
    name: str, runtimes: Sequence[RuntimeReport], pick: Callable[[RuntimeReport], float | None]
) -> Iterable[Sample]:
    values = [v for r in runtimes if (v := pick(r)) is not None]
    if values:
        yield Sample(name, sum(values))


def _runtime_samples(runtimes: Sequence[RuntimeReport]) -> Iterable[Sample]:
    yield from _total("NeuronRuntimeHostMemoryUsed", runtimes,
                      lambda r: r.memory.host_bytes if r.memory else None)  # fmt: skip
    yield from _total("NeuronRuntimeDeviceMemoryUsed", runtimes,
                      lambda r: r.memory.device_bytes if r.memory else None)  # fmt: skip
    executions = [r.execution for r in runtimes if r.execution is not None]
    if not runtimes or executions:  # an idle host executed nothing: 0, not missing
        yield Sample(
            "ExecutionsCompleted", sum(e.statuses.get("completed", 0.0) for e in executions)
        )
        yield Sample("ExecutionErrors", sum(sum(e.errors.values()) for e in executions))
    counts: dict[str, float] = {}
    for execution in executions:
        for kind, value in execution.errors.items():
            counts[error_metric(kind)] = counts.get(error_metric(kind), 0.0) + value
        for status, value in execution.statuses.items():
            if (metric := status_metric(status)) is not None:
                counts[metric] = counts.get(metric, 0.0) + value
    yield from (Sample(name, value) for name, value in counts.items())
    for device in (False, True):
        for percentile in PERCENTILES:
            values = [
                v
                for e in executions
                if (latency := e.device_latency if device else e.total_latency)
                if (v := latency.get(percentile)) is not None
            ]
            if values:
                yield Sample(latency_metric(percentile, device=device), max(values))


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
            name = "HardwareEcc" + "".join(
                part.capitalize() for part in key.split("_") if part != "ecc"
            )
            yield Sample(name, value, device=device.device)
    yield Sample("HardwareEccErrorsCorrected", corrected)
    yield Sample("HardwareEccErrorsUncorrected", uncorrected)


def _host_samples(report: Report) -> Iterable[Sample]:
    if report.host is None:
        return
    idle = report.host.vcpu_average.get("idle")
    if idle is not None and idle <= 100:
        yield Sample("HostVcpuUsage", 100.0 - idle)
    used = report.host.memory.get("memory_used_bytes")
    if used is not None:
        yield Sample("HostMemoryUsed", used)


def _tagged_samples(runtimes: Sequence[RuntimeReport], pattern: re.Pattern[str]) -> list[Sample]:
    by_tag: dict[str, list[RuntimeReport]] = {}
    for runtime in runtimes:
        if runtime.tag is not None and pattern.fullmatch(runtime.tag):
            by_tag.setdefault(runtime.tag, []).append(runtime)
    return [
        replace(sample, runtime_tag=tag)
        for tag, group in by_tag.items()
        for sample in _runtime_samples(group)
    ]
