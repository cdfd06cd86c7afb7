"""The metric catalogue, the profiles and the label names: what emf-neuron can publish. Data only.

Names, units and scopes are the public interface (README, "Metrics"). ``group`` names the
neuron-monitor metric group that feeds the metric, so turning a metric off also removes its group
from the generated monitor configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# CloudWatch rejects values outside +-2^360 (API_MetricDatum).
MAX_ABS_VALUE = 2.0**360
# Labels a report gives (instance and hardware) and labels the ECS task metadata gives: the only
# names a dimension set may use (NeuronCore, NeuronDevice and RuntimeTag are added per document).
REPORT_LABELS = (
    "InstanceId",
    "InstanceType",
    "AvailabilityZone",
    "Region",
    "UltraServerId",
    "NeuronDeviceType",
)
TASK_LABELS = (
    "ClusterName",
    "ServiceName",
    "TaskFamily",
    "TaskRevision",
    "TaskId",
    "TaskArn",
    "ContainerName",
    "LaunchType",
    "AvailabilityZone",
)
KNOWN_DIMENSIONS = frozenset(REPORT_LABELS) | frozenset(TASK_LABELS)

Unit = Literal["Percent", "Bytes", "Count", "Seconds", "Count/Second", "None"]
Kind = Literal["gauge", "counter", "health"]
Scope = Literal["core", "device", "runtime", "task"]
Profile = Literal["minimal", "standard", "full"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A publishable metric: gauges keep every sample, counters are summed over the interval."""

    name: str
    unit: Unit
    kind: Kind
    scope: Scope
    profile: Profile
    group: str | None
    description: str


_RAW: tuple[tuple[str, Unit, Kind, Scope, Profile, str | None, str], ...] = (
    ("NeuronCoreUtilization", "Percent", "gauge", "core", "minimal", "neuroncore_counters",
     "Busy time of the NeuronCore; the maximum over the runtimes that report the core."),
    ("NeuronCoreMemoryUsed", "Bytes", "gauge", "core", "standard", "memory_used",
     "Device memory on the core (constants, code, scratchpad, runtime, tensors), all runtimes."),
    ("NeuronRuntimeHostMemoryUsed", "Bytes", "gauge", "task", "standard", "memory_used",
     "Host memory used by the Neuron runtimes, summed over runtimes."),
    ("NeuronRuntimeDeviceMemoryUsed", "Bytes", "gauge", "task", "standard", "memory_used",
     "Neuron device memory used by the runtimes, summed over runtimes."),
    ("ExecutionsCompleted", "Count", "counter", "task", "standard", "execution_stats",
     "Executions completed in the interval, all runtimes."),
    ("ExecutionErrors", "Count", "counter", "task", "standard", "execution_stats",
     "Failed executions in the interval, all error types and runtimes."),
    ("ExecutionLatencyP50", "Seconds", "gauge", "task", "standard", "execution_stats",
     "Median end-to-end execution latency; the maximum over runtimes; absent when idle."),
    ("ExecutionLatencyP99", "Seconds", "gauge", "task", "standard", "execution_stats",
     "99th percentile end-to-end latency; the maximum over runtimes; absent when idle."),
    ("HardwareEccErrorsCorrected", "Count", "counter", "task", "standard", "neuron_hw_counters",
     "Corrected ECC events (device DRAM + SRAM) in the interval, all devices."),
    ("HardwareEccErrorsUncorrected", "Count", "counter", "task", "standard", "neuron_hw_counters",
     "Uncorrected ECC events (device DRAM + SRAM) in the interval, all devices."),
    ("MonitorUp", "None", "health", "task", "minimal", None,
     "1 while neuron-monitor delivers valid reports in time, else 0. Emitted even when down."),
    ("MonitorRestarts", "Count", "health", "task", "minimal", None,
     "Restarts of neuron-monitor (after an exit, a hang or a failed start) in the interval."),
    ("ReportAgeSeconds", "Seconds", "health", "task", "minimal", None,
     "Seconds since the last valid report (since start-up if there was none)."),
    ("ReportErrors", "Count", "health", "task", "minimal", None,
     "Lines and values rejected from neuron-monitor output in the interval."),
    ("NeuronCoreFlops", "Count/Second", "gauge", "core", "full", "neuroncore_counters",
     "Floating point operations per second on the core (`flops`), summed over runtimes."),
    ("NeuronCoreEffectiveFlops", "Count/Second", "gauge", "core", "full", "neuroncore_counters",
     "Useful floating point operations per second (`effective_flops`), summed over runtimes."),
    ("HardwareEccMemCorrected", "Count", "counter", "device", "full", "neuron_hw_counters",
     "Corrected ECC events in the device's DRAM in the interval."),
    ("HardwareEccMemUncorrected", "Count", "counter", "device", "full", "neuron_hw_counters",
     "Uncorrected ECC events in the device's DRAM in the interval."),
    ("HardwareEccSramCorrected", "Count", "counter", "device", "full", "neuron_hw_counters",
     "Corrected ECC events in the device's SRAM in the interval."),
    ("HardwareEccSramUncorrected", "Count", "counter", "device", "full", "neuron_hw_counters",
     "Uncorrected ECC events in the device's SRAM in the interval."),
    ("HostVcpuUsage", "Percent", "gauge", "task", "full", "vcpu_usage",
     "Busy vCPU time of the host as neuron-monitor sees it (100 - idle); a container's view."),
    ("HostMemoryUsed", "Bytes", "gauge", "task", "full", "memory_info",
     "Host memory in use as neuron-monitor sees it; a container's view."),
)  # fmt: skip

_ERROR_TYPES = ("generic", "numerical", "transient", "model", "runtime", "hardware")
_STATUSES = (
    ("completed_with_err", "ExecutionsCompletedWithError"),
    ("completed_with_num_err", "ExecutionsCompletedWithNumericalError"),
    ("timed_out", "ExecutionsTimedOut"),
    ("incorrect_input", "ExecutionsIncorrectInput"),
    ("failed_to_queue", "ExecutionsFailedToQueue"),
)
PERCENTILES = ("p0", "p1", "p25", "p50", "p75", "p99", "p100")


def error_metric(error_type: str) -> str:
    """``numerical`` -> ``ExecutionErrorsNumerical``."""
    return "ExecutionErrors" + error_type.capitalize()


def status_metric(status: str) -> str | None:
    """The metric of an ``execution_summary`` key (``completed`` has its own, standard one)."""
    return dict(_STATUSES).get(status)


def latency_metric(percentile: str, *, device: bool) -> str:
    """``p99`` -> ``ExecutionLatencyP99`` or ``DeviceLatencyP99``."""
    return ("DeviceLatency" if device else "ExecutionLatency") + percentile.upper()


def _full_execution_specs() -> list[MetricSpec]:
    specs = [
        MetricSpec(error_metric(kind), "Count", "counter", "task", "full", "execution_stats",
                   f"Executions that failed with a {kind} error in the interval.")
        for kind in _ERROR_TYPES
    ]  # fmt: skip
    specs += [
        MetricSpec(name, "Count", "counter", "task", "full", "execution_stats",
                   f"Executions with status {status} in the interval.")
        for status, name in _STATUSES
    ]  # fmt: skip
    for device in (False, True):
        where = "on the device" if device else "end to end"
        specs += [
            MetricSpec(latency_metric(p, device=device), "Seconds", "gauge", "task", "full",
                       "execution_stats", f"Latency {where}, percentile {p[1:]}; max of runtimes.")
            for p in PERCENTILES
            if device or p not in {"p50", "p99"}
        ]  # fmt: skip
    return specs


CATALOGUE: tuple[MetricSpec, ...] = (
    *(MetricSpec(*row) for row in _RAW),
    *_full_execution_specs(),
)
SPECS: dict[str, MetricSpec] = {spec.name: spec for spec in CATALOGUE}
_RANK = {"minimal": 0, "standard": 1, "full": 2}
PROFILES: dict[str, frozenset[str]] = {
    profile: frozenset(s.name for s in CATALOGUE if _RANK[s.profile] <= rank)
    for profile, rank in _RANK.items()
}
