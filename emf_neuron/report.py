"""Typed, frozen records of one neuron-monitor report: made by ``parse``, read by ``mapping``.

This module only declares data. It does no parsing and no I/O; every field is optional because
neuron-monitor's schema drifts between releases (see README, "Input tolerance").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

# Percentile name ("p50") -> seconds.
Percentiles = Mapping[str, float]


class CoreCounters(NamedTuple):
    """One NeuronCore as seen by one runtime (``neuroncore_counters.neuroncores_in_use[core]``).

    A NamedTuple rather than a frozen dataclass: a busy trn1n report has 1,024 of them and a
    frozen dataclass costs about three times as much to build (measured with bench/).
    """

    core: str
    utilization_percent: float | None = None
    flops: float | None = None
    effective_flops: float | None = None


@dataclass(frozen=True, slots=True)
class ExecutionStats:
    """Per-period execution counts and latency percentiles of one runtime."""

    errors: Mapping[str, float] = field(default_factory=dict)
    statuses: Mapping[str, float] = field(default_factory=dict)
    total_latency: Percentiles | None = None
    device_latency: Percentiles | None = None


@dataclass(frozen=True, slots=True)
class MemoryUsed:
    """Memory of one runtime, in bytes; ``core_breakdown`` maps core -> category -> bytes."""

    host_bytes: float | None = None
    device_bytes: float | None = None
    host_breakdown: Mapping[str, float] = field(default_factory=dict)
    core_breakdown: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuntimeReport:
    """One entry of ``neuron_runtime_data``: a process using Neuron devices."""

    pid: int | None = None
    tag: str | None = None
    cores: tuple[CoreCounters, ...] = ()
    execution: ExecutionStats | None = None
    memory: MemoryUsed | None = None
    vcpu_user_percent: float | None = None
    vcpu_system_percent: float | None = None


@dataclass(frozen=True, slots=True)
class DeviceEcc:
    """ECC event counts of one Neuron device (``system_data.neuron_hw_counters``)."""

    device: str
    counts: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HostStats:
    """Host-level groups; inside a container these describe the container's view."""

    vcpu_average: Mapping[str, float] = field(default_factory=dict)
    memory: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """``instance_info`` (1.x: ``instance_data``); strings are already validated as printable."""

    instance_id: str | None = None
    instance_type: str | None = None
    availability_zone: str | None = None
    region: str | None = None
    ultraserver_id: str | None = None


@dataclass(frozen=True, slots=True)
class HardwareInfo:
    """``neuron_hardware_info``."""

    device_type: str | None = None
    device_count: int | None = None
    cores_per_device: int | None = None
    device_memory_bytes: float | None = None
    logical_core_config: int | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """One parsed report, plus what parsing had to reject.

    ``group_errors`` lists the groups that carried a non-empty ``error`` (by group name),
    ``rejected_values`` counts values dropped as non-finite, out of range or of the wrong type,
    and ``valid`` tells whether at least one section carried usable data (the watchdog's heartbeat).
    """

    runtimes: tuple[RuntimeReport, ...] = ()
    ecc: tuple[DeviceEcc, ...] | None = None
    host: HostStats | None = None
    instance: InstanceInfo | None = None
    hardware: HardwareInfo | None = None
    period_seconds: float | None = None
    group_errors: tuple[str, ...] = ()
    rejected_values: int = 0
    valid: bool = False
