"""Turn one line of neuron-monitor output into a ``report.Report``; pure, no I/O, no logging.

The line is untrusted input. Every key is optional and unknown keys are ignored; a value of the
wrong type, a boolean where a number belongs, a non-finite, negative or out-of-range number, and a
string that is not short printable ASCII are dropped and counted in ``Report.rejected_values``.
Only a line that is not a JSON object raises ``ReportError``. Nothing outside this module sees a
``dict[str, Any]`` from the child.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from emf_neuron.catalogue import MAX_ABS_VALUE
from emf_neuron.errors import ReportError
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

MAX_TEXT_LENGTH = 256
MAX_INDEX = 1024  # NeuronCores and devices per host: a trn2u.48xlarge has 128 physical cores
_LABELS: dict[str, bool] = {}  # memo of clean_text: core and category keys repeat every report
_LABEL_MEMO_SIZE = 4096
_ENVELOPE = frozenset({"period", "error"})  # every metric group carries these two
_ECC_KEYS = (
    "mem_ecc_corrected",
    "mem_ecc_uncorrected",
    "sram_ecc_corrected",
    "sram_ecc_uncorrected",
)


def clean_text(value: object) -> str | None:
    """Return ``value`` if it is a usable label (1..256 printable ASCII, not blank), else None."""
    if type(value) is not str:
        return None
    known = _LABELS.get(value)
    if known is not None:
        return value if known else None
    # For ASCII, isprintable() is exactly " " to "~"; both checks run in C (a hot path).
    ok = len(value) <= MAX_TEXT_LENGTH and bool(value.strip()) and value.isascii()
    ok = ok and value.isprintable()
    if len(_LABELS) >= _LABEL_MEMO_SIZE:  # bounded: a hostile child cannot grow it
        _LABELS.clear()
    _LABELS[value] = ok
    return value if ok else None


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
    return _Reader().report(document)


def _core_index(key: object) -> str | None:
    """A NeuronCore key becomes a dimension value: only small decimal indices, so a hostile or
    broken monitor cannot mint thousands of custom metrics."""
    if type(key) is str and key.isascii() and key.isdigit() and int(key) < MAX_INDEX:
        return key
    return None


def _obj(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


class _Reader:
    """Reads one decoded report, counting every value it has to reject."""

    def __init__(self) -> None:
        self.rejected = 0
        self.group_errors: list[str] = []
        self.ok_sections = 0
        self.periods: list[float] = []

    def report(self, doc: dict[str, Any]) -> Report:
        runtimes = self._runtimes(doc.get("neuron_runtime_data"))
        system = _obj(doc.get("system_data")) or {}
        ecc = self._ecc(system.get("neuron_hw_counters"), "neuron_hw_counters")
        if ecc is None:  # 1.x kept hw_counters per runtime
            ecc = self._legacy_ecc(doc.get("neuron_runtime_data"))
        host = self._host(system)
        instance = self._instance(doc.get("instance_info", doc.get("instance_data")))
        return Report(
            runtimes=runtimes,
            ecc=ecc,
            host=host,
            instance=instance,
            hardware=self._hardware(doc.get("neuron_hardware_info")),
            period_seconds=max(self.periods) if self.periods else None,
            group_errors=tuple(self.group_errors),
            rejected_values=self.rejected,
            valid=self.ok_sections > 0,
        )

    # -- scalars -------------------------------------------------------------------------------

    def number(self, obj: Mapping[str, Any], key: str) -> float | None:
        """A finite, non-negative, in-range number (never a bool), or None (counted if present)."""
        value = obj.get(key)
        if value is None:
            return None
        # Exact types: a bool is not a number here. NaN fails both comparisons, inf the upper one.
        kind = type(value)
        if (kind is float or kind is int) and 0 <= value <= MAX_ABS_VALUE:
            return float(value)
        self.rejected += 1
        return None

    def numbers(self, value: object) -> dict[str, float]:
        """An open map of name -> number; bad entries are dropped and counted."""
        obj = _obj(value)
        if obj is None:
            return {}
        out: dict[str, float] = {}
        for key in obj:
            if key in _ENVELOPE:
                continue
            if clean_text(key) is None:
                self.rejected += 1
                continue
            number = self.number(obj, key)
            if number is not None:
                out[key] = number
        return out

    def text(self, obj: Mapping[str, Any], key: str) -> str | None:
        value = obj.get(key)
        if value is None or value == "":
            return None
        cleaned = clean_text(value)
        if cleaned is None:
            self.rejected += 1
        return cleaned

    def group(self, value: object, name: str) -> dict[str, Any] | None:
        """A metric group with an empty ``error``; a group with an error is recorded and skipped."""
        obj = _obj(value)
        if obj is None:
            return None
        error = obj.get("error")
        if isinstance(error, str) and error:
            self.group_errors.append(name)
            return None
        if obj.keys() - _ENVELOPE:  # an empty section carries no data: not a heartbeat
            self.ok_sections += 1
        period = obj.get("period")
        if isinstance(period, int | float) and not isinstance(period, bool) and 0 < period < 86400:
            self.periods.append(float(period))
        elif period is not None:
            self.rejected += 1
        return obj

    # -- sections ------------------------------------------------------------------------------

    def _runtimes(self, value: object) -> tuple[RuntimeReport, ...]:
        if not isinstance(value, list):
            return ()
        entries = (_obj(entry) for entry in value)
        return tuple(self._runtime(entry) for entry in entries if entry is not None)

    def _runtime(self, entry: dict[str, Any]) -> RuntimeReport:
        pid = self.number(entry, "pid")
        pid_value = int(pid) if pid is not None and pid.is_integer() else None
        tag = self.text(entry, "neuron_runtime_tag")
        error = entry.get("error")
        if isinstance(error, str) and error:  # collecting from this process failed: no data
            self.group_errors.append("runtime")
            return RuntimeReport(pid=pid_value, tag=tag)
        body = _obj(entry.get("report")) or {}
        counters = self.group(body.get("neuroncore_counters"), "neuroncore_counters") or {}
        execution = body.get("execution_stats", body.get("inference_stats"))
        vcpu = self.group(body.get("neuron_runtime_vcpu_usage"), "neuron_runtime_vcpu_usage") or {}
        vcpu_usage = _obj(vcpu.get("vcpu_usage")) or {}
        return RuntimeReport(
            pid=pid_value,
            tag=tag,
            cores=self._cores(counters.get("neuroncores_in_use")),
            execution=self._execution(execution),
            memory=self._memory(body.get("memory_used")),
            vcpu_user_percent=self.number(vcpu_usage, "user"),
            vcpu_system_percent=self.number(vcpu_usage, "system"),
        )

    def _cores(self, value: object) -> tuple[CoreCounters, ...]:
        obj = _obj(value) or {}
        cores = []
        number = self.number
        for key, data in obj.items():
            core = _core_index(key)
            if core is None or type(data) is not dict:
                self.rejected += 1
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

    def _execution(self, value: object) -> ExecutionStats | None:
        group = self.group(value, "execution_stats")
        if group is None:
            return None
        latency = _obj(group.get("latency_stats")) or {}
        summary = group.get("execution_summary", group.get("inference_summary"))
        return ExecutionStats(
            errors=self.numbers(group.get("error_summary")),
            statuses=self.numbers(summary),
            total_latency=self.numbers(latency.get("total_latency")) or None,
            device_latency=self.numbers(latency.get("device_latency")) or None,
        )

    def _memory(self, value: object) -> MemoryUsed | None:
        group = self.group(value, "memory_used")
        if group is None:
            return None
        used = _obj(group.get("neuron_runtime_used_bytes")) or {}
        breakdown = _obj(used.get("usage_breakdown")) or {}
        per_core = _obj(breakdown.get("neuroncore_memory_usage")) or {}
        return MemoryUsed(
            host_bytes=self.number(used, "host"),
            device_bytes=self.number(used, "neuron_device"),
            host_breakdown=self.numbers(breakdown.get("host")),
            core_breakdown=self._per_core(per_core),
        )

    def _per_core(self, per_core: dict[str, Any]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for core, raw in per_core.items():
            if _core_index(core) is None:
                self.rejected += 1
            else:
                out[core] = self.numbers(raw)
        return out

    def _ecc(self, value: object, name: str) -> tuple[DeviceEcc, ...] | None:
        group = self.group(value, name)
        if group is None:
            return None
        devices = group.get("neuron_devices")
        devices = devices if isinstance(devices, list) else []
        out = []
        for raw in devices:
            device = _obj(raw) or {}
            index = self.number(device, "neuron_device_index")
            if index is None or not index.is_integer() or index >= MAX_INDEX:
                continue
            counts = {k: v for k in _ECC_KEYS if (v := self.number(device, k)) is not None}
            out.append(DeviceEcc(device=str(int(index)), counts=counts))
        return tuple(out)

    def _legacy_ecc(self, value: object) -> tuple[DeviceEcc, ...] | None:
        entries = [_obj(e) for e in value] if isinstance(value, list) else []
        merged: dict[str, DeviceEcc] = {}
        for entry in entries:
            body = _obj((entry or {}).get("report")) or {}
            for device in self._ecc(body.get("hw_counters"), "hw_counters") or ():
                merged[device.device] = device
        return tuple(merged.values()) if merged else None

    def _host(self, system: dict[str, Any]) -> HostStats | None:
        vcpu = self.group(system.get("vcpu_usage"), "vcpu_usage")
        memory = self.group(system.get("memory_info"), "memory_info")
        if vcpu is None and memory is None:
            return None
        return HostStats(
            vcpu_average=self.numbers((vcpu or {}).get("average_usage")),
            memory=self.numbers(memory),
        )

    def _instance(self, value: object) -> InstanceInfo | None:
        info = self.group(value, "instance_info")
        if info is None:
            return None
        return InstanceInfo(
            instance_id=self.text(info, "instance_id"),
            instance_type=self.text(info, "instance_type"),
            availability_zone=self.text(info, "instance_availability_zone"),
            region=self.text(info, "instance_region"),
            ultraserver_id=self.text(info, "ultraserver_id"),
        )

    def _hardware(self, value: object) -> HardwareInfo | None:
        info = self.group(value, "neuron_hardware_info")
        if info is None:
            return None
        count = self.number(info, "neuron_device_count")
        per_device = self.number(info, "neuroncore_per_device_count")
        lnc = self.number(info, "logical_neuroncore_config")
        return HardwareInfo(
            device_type=self.text(info, "neuron_device_type"),
            device_count=int(count) if count is not None else None,
            cores_per_device=int(per_device) if per_device is not None else None,
            device_memory_bytes=self.number(info, "neuron_device_memory_size"),
            logical_core_config=int(lnc) if lnc is not None else None,
        )
