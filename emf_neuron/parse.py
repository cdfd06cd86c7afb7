"""Turn one line of neuron-monitor output into a ``report.Report``; pure, no I/O, no logging.

The line is untrusted input. Every key is optional and unknown keys are ignored; a value of the
wrong type, a boolean where a number belongs, a non-finite, negative or out-of-range number, and a
string that is not short printable ASCII are dropped and counted in ``Report.rejected_values``.
Only a line that is not a JSON object raises ``ReportError``. This module walks the sections;
``reader`` owns the value checks and their counts. Nothing outside the two sees a
``dict[str, Any]`` from the child.
"""

from __future__ import annotations

import json
from typing import Any

from emf_neuron.errors import ReportError
from emf_neuron.reader import MAX_INDEX, Reader, as_object, clean_text, core_index
from emf_neuron.report import (
    CoreCounters,
    DeviceEcc,
    ExecutionStats,
    HardwareInfo,
    HostStats,
    InstanceInfo,
    MemoryUsed,
    Report,
    RuntimeReport,
)

__all__ = ["clean_text", "parse_report"]
_ECC_KEYS = (
    "mem_ecc_corrected",
    "mem_ecc_uncorrected",
    "sram_ecc_corrected",
    "sram_ecc_uncorrected",
)


def parse_report(line: bytes) -> Report:
    """Parse one report line.

    Raises:
        ReportError: the line is not valid UTF-8 JSON, is too deeply nested, or is not an object.
    """
    try:
        # Strict UTF-8: json.loads(bytes) would let encoded lone surrogates through.
        document = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ReportError(f"not valid JSON: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise ReportError(f"not a JSON object but {type(document).__name__}")
    return _report(Reader(), document)


def _report(r: Reader, doc: dict[str, Any]) -> Report:
    runtimes = _runtimes(r, doc.get("neuron_runtime_data"))
    system = as_object(doc.get("system_data")) or {}
    ecc = _ecc(r, system.get("neuron_hw_counters"), "neuron_hw_counters")
    if ecc is None:  # 1.x kept hw_counters per runtime
        ecc = _legacy_ecc(r, doc.get("neuron_runtime_data"))
    host = _host(r, system)
    instance = _instance(r, doc.get("instance_info", doc.get("instance_data")))
    return Report(
        runtimes=runtimes,
        ecc=ecc,
        host=host,
        instance=instance,
        hardware=_hardware(r, doc.get("neuron_hardware_info")),
        period_seconds=max(r.periods) if r.periods else None,
        group_errors=tuple(r.group_errors),
        rejected_values=r.rejected,
        valid=r.ok_sections > 0,
    )


# -- scalars -------------------------------------------------------------------------------


def _runtimes(r: Reader, value: object) -> tuple[RuntimeReport, ...]:
    if not isinstance(value, list):
        return ()
    entries = (as_object(entry) for entry in value)
    return tuple(_runtime(r, entry) for entry in entries if entry is not None)


def _runtime(r: Reader, entry: dict[str, Any]) -> RuntimeReport:
    pid = r.number(entry, "pid")
    pid_value = int(pid) if pid is not None and pid.is_integer() else None
    tag = r.text(entry, "neuron_runtime_tag")
    error = entry.get("error")
    if isinstance(error, str) and error:  # collecting from this process failed: no data
        r.group_errors.append("runtime")
        return RuntimeReport(pid=pid_value, tag=tag)
    body = as_object(entry.get("report")) or {}
    counters = r.group(body.get("neuroncore_counters"), "neuroncore_counters") or {}
    execution = body.get("execution_stats", body.get("inference_stats"))
    vcpu = r.group(body.get("neuron_runtime_vcpu_usage"), "neuron_runtime_vcpu_usage") or {}
    vcpu_usage = as_object(vcpu.get("vcpu_usage")) or {}
    return RuntimeReport(
        pid=pid_value,
        tag=tag,
        cores=_cores(r, counters.get("neuroncores_in_use")),
        execution=_execution(r, execution),
        memory=_memory(r, body.get("memory_used")),
        vcpu_user_percent=r.number(vcpu_usage, "user"),
        vcpu_system_percent=r.number(vcpu_usage, "system"),
    )


def _cores(r: Reader, value: object) -> tuple[CoreCounters, ...]:
    obj = as_object(value) or {}
    cores = []
    number = r.number
    for key, data in obj.items():
        core = core_index(key)
        if core is None or type(data) is not dict:
            r.rejected += 1
            continue
        cores.append(
            CoreCounters(
                core,
                number(data, "neuroncore_utilization"),
                number(data, "flops"),
                number(data, "effective_flops"),
            )
        )
    return tuple(cores)


def _execution(r: Reader, value: object) -> ExecutionStats | None:
    group = r.group(value, "execution_stats")
    if group is None:
        return None
    latency = as_object(group.get("latency_stats")) or {}
    summary = group.get("execution_summary", group.get("inference_summary"))
    return ExecutionStats(
        errors=r.numbers(group.get("error_summary")),
        statuses=r.numbers(summary),
        total_latency=r.numbers(latency.get("total_latency")) or None,
        device_latency=r.numbers(latency.get("device_latency")) or None,
    )


def _memory(r: Reader, value: object) -> MemoryUsed | None:
    group = r.group(value, "memory_used")
    if group is None:
        return None
    used = as_object(group.get("neuron_runtime_used_bytes")) or {}
    breakdown = as_object(used.get("usage_breakdown")) or {}
    per_core = as_object(breakdown.get("neuroncore_memory_usage")) or {}
    return MemoryUsed(
        host_bytes=r.number(used, "host"),
        device_bytes=r.number(used, "neuron_device"),
        host_breakdown=r.numbers(breakdown.get("host")),
        core_breakdown=_per_core(r, per_core),
    )


def _per_core(r: Reader, per_core: dict[str, Any]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for core, raw in per_core.items():
        if core_index(core) is None:
            r.rejected += 1
        else:
            out[core] = r.numbers(raw)
    return out


def _ecc(r: Reader, value: object, name: str) -> tuple[DeviceEcc, ...] | None:
    group = r.group(value, name)
    if group is None:
        return None
    devices = group.get("neuron_devices")
    devices = devices if isinstance(devices, list) else []
    out = []
    for raw in devices:
        device = as_object(raw) or {}
        index = r.number(device, "neuron_device_index")
        if index is None or not index.is_integer() or index >= MAX_INDEX:
            continue
        counts = {k: v for k in _ECC_KEYS if (v := r.number(device, k)) is not None}
        out.append(DeviceEcc(device=str(int(index)), counts=counts))
    return tuple(out)


def _legacy_ecc(r: Reader, value: object) -> tuple[DeviceEcc, ...] | None:
    entries = [as_object(e) for e in value] if isinstance(value, list) else []
    merged: dict[str, DeviceEcc] = {}
    for entry in entries:
        body = as_object((entry or {}).get("report")) or {}
        for device in _ecc(r, body.get("hw_counters"), "hw_counters") or ():
            merged[device.device] = device
    return tuple(merged.values()) if merged else None


def _host(r: Reader, system: dict[str, Any]) -> HostStats | None:
    vcpu = r.group(system.get("vcpu_usage"), "vcpu_usage")
    memory = r.group(system.get("memory_info"), "memory_info")
    if vcpu is None and memory is None:
        return None
    return HostStats(
        vcpu_average=r.numbers((vcpu or {}).get("average_usage")),
        memory=r.numbers(memory),
    )


def _instance(r: Reader, value: object) -> InstanceInfo | None:
    info = r.group(value, "instance_info")
    if info is None:
        return None
    return InstanceInfo(
        instance_id=r.text(info, "instance_id"),
        instance_type=r.text(info, "instance_type"),
        availability_zone=r.text(info, "instance_availability_zone"),
        region=r.text(info, "instance_region"),
        ultraserver_id=r.text(info, "ultraserver_id"),
    )


def _hardware(r: Reader, value: object) -> HardwareInfo | None:
    info = r.group(value, "neuron_hardware_info")
    if info is None:
        return None
    count = r.number(info, "neuron_device_count")
    per_device = r.number(info, "neuroncore_per_device_count")
    lnc = r.number(info, "logical_neuroncore_config")
    return HardwareInfo(
        device_type=r.text(info, "neuron_device_type"),
        device_count=int(count) if count is not None else None,
        cores_per_device=int(per_device) if per_device is not None else None,
        device_memory_bytes=r.number(info, "neuron_device_memory_size"),
        logical_core_config=int(lnc) if lnc is not None else None,
    )
