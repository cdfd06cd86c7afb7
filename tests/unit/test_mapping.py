"""map_report: which samples one report yields, and how runtimes, cores and devices combine.

Expected values for the recorded samples are computed here from the raw JSON with plain dict
walking, independently of ``parse`` and ``mapping``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import REPORTS

from emf_neuron.interval import Health, Layout
from emf_neuron.mapping import SPECS, Sample, map_report
from emf_neuron.parse import parse_report
from emf_neuron.pipeline import Pipeline

ALL_METRICS = frozenset(SPECS)
# The metrics whose rules this file pins (the README's standard table).
RULED = (
    "NeuronCoreUtilization",
    "NeuronCoreMemoryUsed",
    "NeuronRuntimeHostMemoryUsed",
    "NeuronRuntimeDeviceMemoryUsed",
    "ExecutionsCompleted",
    "ExecutionErrors",
    "ExecutionLatencyP50",
    "ExecutionLatencyP99",
    "HardwareEccErrorsCorrected",
    "HardwareEccErrorsUncorrected",
)
Key = tuple[str, str | None]


def _samples(doc: dict[str, Any], metrics: frozenset[str] = ALL_METRICS) -> dict[Key, float]:
    """map_report over ``doc`` as {(metric, core): value} for the task and per-core samples."""
    samples = map_report(parse_report(json.dumps(doc).encode()), metrics)
    out: dict[Key, float] = {}
    for sample in samples:
        if sample.device is None and sample.runtime_tag is None:
            key = (sample.metric, sample.core)
            assert key not in out, f"{key} sampled twice"
            out[key] = sample.value
    return out


def _runtime(
    pid: int,
    cores: dict[str, float] | None = None,
    *,
    memory: dict[str, dict[str, int]] | None = None,
    host: int | None = None,
    device: int | None = None,
    completed: int | None = None,
    errors: dict[str, int] | None = None,
    latency: dict[str, float] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if cores is not None:
        in_use = {core: {"neuroncore_utilization": value} for core, value in cores.items()}
        body["neuroncore_counters"] = {"period": 5, "error": "", "neuroncores_in_use": in_use}
    if memory is not None or host is not None or device is not None:
        used: dict[str, Any] = {
            "host": host,
            "neuron_device": device,
            "usage_breakdown": {"host": {}, "neuroncore_memory_usage": memory or {}},
        }
        body["memory_used"] = {"period": 5, "error": "", "neuron_runtime_used_bytes": used}
    if completed is not None or errors is not None or latency is not None:
        body["execution_stats"] = {
            "period": 5,
            "error": "",
            "error_summary": errors or {},
            "execution_summary": {"completed": completed, "timed_out": 0},
            "latency_stats": {"total_latency": latency, "device_latency": None},
        }
    return {"pid": pid, "neuron_runtime_tag": str(pid), "error": "", "report": body}


def _ecc_doc(*devices: tuple[int, int, int, int]) -> dict[str, Any]:
    keys = (
        "mem_ecc_corrected",
        "mem_ecc_uncorrected",
        "sram_ecc_corrected",
        "sram_ecc_uncorrected",
    )
    listed = [
        {"neuron_device_index": n, **dict(zip(keys, counts, strict=True))}
        for n, counts in enumerate(devices)
    ]
    hw = {"period": 5, "error": "", "neuron_devices": listed}
    return {"neuron_runtime_data": [], "system_data": {"neuron_hw_counters": hw}}


# -- per-core ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [(0.0, 73.0, 73.0), (73.0, 0.0, 73.0), (12.5, 12.5, 12.5), (99.9, 100.0, 100.0)],
    ids=["idle-then-busy", "busy-then-idle", "equal", "both-busy"],
)
def test_core_utilization_is_the_max_over_runtimes(
    first: float, second: float, expected: float
) -> None:
    # given: two runtimes list the same core 0 (every process lists every visible core)
    doc = {"neuron_runtime_data": [_runtime(1, {"0": first}), _runtime(2, {"0": second})]}
    # when
    samples = _samples(doc)
    # then
    assert samples[("NeuronCoreUtilization", "0")] == expected


def test_core_utilization_of_disjoint_cores() -> None:
    doc = {"neuron_runtime_data": [_runtime(1, {"0": 10.0, "1": 0.0}), _runtime(2, {"2": 55.5})]}
    samples = _samples(doc)
    assert {k[1]: v for k, v in samples.items() if k[0] == "NeuronCoreUtilization"} == {
        "0": 10.0,
        "1": 0.0,
        "2": 55.5,
    }


def test_core_memory_is_the_sum_over_runtimes_of_every_category() -> None:
    # given
    doc = {
        "neuron_runtime_data": [
            _runtime(1, memory={"0": {"constants": 100, "model_code": 20, "tensors": 3}}, host=1),
            _runtime(
                2,
                memory={
                    "0": {"tensors": 1000, "runtime_memory": 4},
                    "1": {"model_shared_scratchpad": 7},
                },
                host=1,
            ),
        ]
    }
    # when
    samples = _samples(doc)
    # then
    assert samples[("NeuronCoreMemoryUsed", "0")] == 100 + 20 + 3 + 1000 + 4
    assert samples[("NeuronCoreMemoryUsed", "1")] == 7


# -- task totals ---------------------------------------------------------------------------------


def test_host_and_device_memory_are_summed_over_runtimes() -> None:
    doc = {
        "neuron_runtime_data": [
            _runtime(1, host=1_000, device=50_000),
            _runtime(2, host=2_000, device=70_000),
            _runtime(3, cores={"0": 1.0}),
        ]
    }
    samples = _samples(doc)
    assert samples[("NeuronRuntimeHostMemoryUsed", None)] == 3_000
    assert samples[("NeuronRuntimeDeviceMemoryUsed", None)] == 120_000


def test_executions_and_errors_are_summed_over_runtimes_and_error_types() -> None:
    doc = {
        "neuron_runtime_data": [
            _runtime(1, completed=10, errors={"generic": 2, "numerical": 1, "hardware": 0}),
            _runtime(2, completed=5, errors={"transient": 4, "model": 8, "runtime": 16}),
        ]
    }
    samples = _samples(doc)
    assert samples[("ExecutionsCompleted", None)] == 15
    assert samples[("ExecutionErrors", None)] == 2 + 1 + 4 + 8 + 16


def test_latency_percentiles_are_the_max_over_runtimes() -> None:
    doc = {
        "neuron_runtime_data": [
            _runtime(1, completed=1, latency={"p50": 0.010, "p99": 0.090}),
            _runtime(2, completed=1, latency={"p50": 0.020, "p99": 0.030}),
        ]
    }
    samples = _samples(doc)
    assert samples[("ExecutionLatencyP50", None)] == 0.020
    assert samples[("ExecutionLatencyP99", None)] == 0.090


def test_latency_of_an_idle_runtime_does_not_count() -> None:
    doc = {
        "neuron_runtime_data": [
            _runtime(1, completed=0, latency=None),
            _runtime(2, completed=3, latency={"p50": 0.004, "p99": 0.005}),
        ]
    }
    samples = _samples(doc)
    assert samples[("ExecutionLatencyP50", None)] == 0.004
    assert samples[("ExecutionLatencyP99", None)] == 0.005


def test_latency_is_absent_when_every_runtime_is_idle() -> None:
    # given: null latencies (neuron-monitor's "no execution in the period")
    doc = {"neuron_runtime_data": [_runtime(1, completed=0), _runtime(2, completed=0)]}
    # when
    samples = _samples(doc)
    # then: no sample at all, not a zero
    assert ("ExecutionLatencyP50", None) not in samples
    assert ("ExecutionLatencyP99", None) not in samples
    assert samples[("ExecutionsCompleted", None)] == 0


@pytest.mark.parametrize(
    ("devices", "corrected", "uncorrected"),
    [
        (((0, 0, 0, 0),), 0, 0),
        (((1, 0, 0, 0),), 1, 0),
        (((0, 0, 1, 0),), 1, 0),
        (((0, 1, 0, 0),), 0, 1),
        (((0, 0, 0, 1),), 0, 1),
        (((1, 2, 3, 4), (10, 20, 30, 40)), 1 + 3 + 10 + 30, 2 + 4 + 20 + 40),
    ],
    ids=["none", "mem-corrected", "sram-corrected", "mem-uncorrected", "sram-uncorrected", "mixed"],
)
def test_ecc_counts_are_summed_over_memory_kinds_and_devices(
    devices: tuple[tuple[int, int, int, int], ...], corrected: int, uncorrected: int
) -> None:
    samples = _samples(_ecc_doc(*devices))
    assert samples[("HardwareEccErrorsCorrected", None)] == corrected
    assert samples[("HardwareEccErrorsUncorrected", None)] == uncorrected


def test_no_ecc_group_means_no_ecc_sample() -> None:
    samples = _samples({"neuron_runtime_data": [_runtime(1, {"0": 5.0})]})
    assert ("HardwareEccErrorsCorrected", None) not in samples
    assert ("HardwareEccErrorsUncorrected", None) not in samples


# -- selection -----------------------------------------------------------------------------------

_BUSY = {
    "neuron_runtime_data": [
        _runtime(
            1,
            {"0": 50.0},
            memory={"0": {"tensors": 9}},
            host=1,
            device=2,
            completed=3,
            errors={"generic": 1},
            latency={"p50": 0.1, "p99": 0.2},
        )
    ],
    "system_data": _ecc_doc((1, 1, 1, 1))["system_data"],
}


@pytest.mark.parametrize(
    "metrics",
    [
        frozenset(),
        frozenset({"NeuronCoreUtilization"}),
        frozenset({"ExecutionLatencyP99", "HardwareEccErrorsUncorrected"}),
        frozenset({"MonitorUp"}),
        frozenset(RULED),
    ],
    ids=["nothing", "utilization-only", "two-task-metrics", "health-only", "standard-table"],
)
def test_only_selected_metrics_are_sampled(metrics: frozenset[str]) -> None:
    samples = _samples(_BUSY, metrics)
    assert {metric for metric, _ in samples} == set(metrics) - {"MonitorUp"}


def test_every_sample_names_a_catalogued_metric_with_a_finite_value() -> None:
    for path in sorted(REPORTS.iterdir()):
        for line in path.read_bytes().splitlines() if path.suffix in {".json", ".jsonl"} else []:
            for sample in map_report(parse_report(line), ALL_METRICS):
                assert isinstance(sample, Sample)
                assert sample.metric in SPECS
                assert 0 <= sample.value < float("inf")


# -- J7: no metric for missing or failed data ----------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "absent"),
    [
        (
            {"neuron_runtime_data": [_runtime(1, completed=1, latency=None)]},
            ("ExecutionLatencyP50", "ExecutionLatencyP99", "NeuronRuntimeHostMemoryUsed"),
        ),
        (
            {"neuron_runtime_data": [{"pid": 1, "error": "gone", "report": {}}]},
            RULED,
        ),
        (
            {
                "neuron_runtime_data": [
                    {
                        "pid": 1,
                        "report": {
                            "execution_stats": {
                                "error": "failed",
                                "execution_summary": {"completed": 9},
                                "error_summary": {"generic": 9},
                            }
                        },
                    }
                ]
            },
            ("ExecutionsCompleted", "ExecutionErrors", "ExecutionLatencyP50"),
        ),
        (
            {"system_data": {"neuron_hw_counters": {"error": "failed", "neuron_devices": []}}},
            ("HardwareEccErrorsCorrected", "HardwareEccErrorsUncorrected"),
        ),
    ],
    ids=[
        "null-latency-no-memory-group",
        "runtime-with-error-and-empty-report",
        "execution-stats-with-error",
        "hw-counters-with-error",
    ],
)
def test_missing_or_failed_groups_yield_no_sample(
    doc: dict[str, Any], absent: tuple[str, ...]
) -> None:
    samples = _samples(doc)
    assert not {metric for metric, _ in samples} & set(absent)


_HARDWARE = {"neuron_device_count": 1, "neuroncore_per_device_count": 2, "error": ""}


@pytest.mark.parametrize(
    ("group", "metric"),
    [("neuroncore_counters", "NeuronCoreUtilization"), ("memory_used", "NeuronCoreMemoryUsed")],
    ids=["counters-error", "memory-error"],
)
def test_failed_core_group_is_not_published_as_idle(group: str, metric: str) -> None:
    # given: a busy runtime whose per-core group failed, on a 1 device x 2 core host
    runtime = _runtime(1, {"0": 90.0, "1": 90.0}, memory={"0": {"tensors": 5}}, host=1)
    runtime["report"][group]["error"] = "failed to read"
    doc = {"neuron_runtime_data": [runtime], "neuron_hardware_info": _HARDWARE}
    # when
    samples = _samples(doc)
    # then: no value for the cores instead of a made-up 0
    assert {core: v for (m, core), v in samples.items() if m == metric} == {}


def test_invalid_reports_add_no_counter_samples() -> None:
    # given: a monitor that only emits objects without any known section
    pipeline = Pipeline("NS", ALL_METRICS, Layout(), 4096)
    # when
    valid = pipeline.feed(b'{}\n{"foo": 1}\n')
    docs = pipeline.documents(Health(up=False, restarts=0, report_age_seconds=9, report_errors=0))
    # then
    assert valid == 0
    names = {metric.name for doc in docs for metric in doc.metrics}
    assert names == {"MonitorUp", "MonitorRestarts", "ReportAgeSeconds", "ReportErrors"}


# -- recorded samples: expectations from the raw JSON ---------------------------------------------


def _ok(group: object) -> dict[str, Any] | None:
    return group if isinstance(group, dict) and not group.get("error") else None


def _runtime_groups(runtime: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = runtime.get("report", {})
    names = {
        "neuroncore_counters": "neuroncore_counters",
        "memory_used": "memory_used",
        "execution_stats": "execution_stats",
        "inference_stats": "execution_stats",
    }
    return {names[k]: g for k, v in body.items() if k in names and (g := _ok(v)) is not None}


def _expected_cores(raw: dict[str, Any]) -> dict[Key, float]:
    util: dict[str, float] = {}
    memory: dict[str, float] = {}
    for runtime in raw["neuron_runtime_data"]:
        groups = _runtime_groups(runtime)
        for core, data in (
            groups.get("neuroncore_counters", {}).get("neuroncores_in_use", {}).items()
        ):
            util[core] = max(util.get(core, 0.0), data["neuroncore_utilization"])
        used = groups.get("memory_used", {}).get("neuron_runtime_used_bytes", {})
        per_core = used.get("usage_breakdown", {}).get("neuroncore_memory_usage", {})
        for core, categories in per_core.items():
            memory[core] = memory.get(core, 0.0) + sum(categories.values())
    hardware = _ok(raw.get("neuron_hardware_info")) or {}
    count = hardware.get("neuron_device_count", 0) * hardware.get("neuroncore_per_device_count", 0)
    for core in map(str, range(count)):  # cores no runtime reports are published as idle
        util.setdefault(core, 0.0)
        memory.setdefault(core, 0.0)
    out: dict[Key, float] = {("NeuronCoreUtilization", c): v for c, v in util.items()}
    out.update({("NeuronCoreMemoryUsed", c): v for c, v in memory.items()})
    return out


def _expected_task(raw: dict[str, Any]) -> dict[Key, float]:
    out: dict[Key, float] = {}
    runtimes = [_runtime_groups(r) for r in raw["neuron_runtime_data"]]
    used = [g["memory_used"]["neuron_runtime_used_bytes"] for g in runtimes if "memory_used" in g]
    if used:
        out["NeuronRuntimeHostMemoryUsed", None] = sum(u["host"] for u in used)
        out["NeuronRuntimeDeviceMemoryUsed", None] = sum(u["neuron_device"] for u in used)
    stats = [g["execution_stats"] for g in runtimes if "execution_stats" in g]
    if stats or not raw["neuron_runtime_data"]:
        summaries = [s["execution_summary" if "execution_summary" in s else "inference_summary"]
                     for s in stats]  # fmt: skip
        out["ExecutionsCompleted", None] = sum(summary["completed"] for summary in summaries)
        out["ExecutionErrors", None] = sum(sum(s["error_summary"].values()) for s in stats)
    for percentile, name in (("p50", "ExecutionLatencyP50"), ("p99", "ExecutionLatencyP99")):
        values = [
            s["latency_stats"]["total_latency"][percentile]
            for s in stats
            if s["latency_stats"]["total_latency"] is not None
        ]
        if values:
            out[name, None] = max(values)
    devices = (_ok(raw.get("system_data", {}).get("neuron_hw_counters")) or {}).get(
        "neuron_devices"
    )
    if devices is None:  # 1.x: per runtime
        legacy = [_ok(r.get("report", {}).get("hw_counters")) for r in raw["neuron_runtime_data"]]
        devices = [d for group in legacy if group for d in group["neuron_devices"]] or None
    if devices is not None:
        counts = [(k, v) for d in devices for k, v in d.items() if k.endswith("corrected")]
        out["HardwareEccErrorsCorrected", None] = sum(
            v for k, v in counts if k.endswith("_corrected")
        )
        out["HardwareEccErrorsUncorrected", None] = sum(
            v for k, v in counts if k.endswith("_uncorrected")
        )
    return out


FIXTURE_LINES = [
    (path, n, line)
    for path in sorted(REPORTS.iterdir())
    if path.suffix in {".json", ".jsonl"}
    for n, line in enumerate(path.read_bytes().splitlines())
]


@pytest.mark.parametrize(
    ("path", "n", "line"),
    FIXTURE_LINES,
    ids=[f"{path.stem}-{n}" for path, n, _ in FIXTURE_LINES],
)
def test_recorded_sample_maps_to_values_computed_from_the_raw_json(
    path: Path, n: int, line: bytes
) -> None:
    # given
    raw = json.loads(line)
    expected = {**_expected_cores(raw), **_expected_task(raw)}
    # when
    samples = _samples(raw, frozenset(RULED))
    # then
    assert samples == pytest.approx(expected, rel=1e-12), (path.name, n)


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("aws-cloudwatch-agent-test-dummy-embedded-trn1n.32xlarge-2024.json",
         ("NeuronCoreUtilization", "6"), 41.4),
        ("aws-cloudwatch-agent-test-dummy-embedded-trn1n.32xlarge-2024.json",
         ("NeuronCoreMemoryUsed", "0"), 2 * (100752896 + 9912852)),
        ("aws-cloudwatch-agent-test-dummy-embedded-trn1n.32xlarge-2024.json",
         ("ExecutionErrors", None), 4),
        ("aws-cloudwatch-agent-test-dummy-embedded-trn1n.32xlarge-2024.json",
         ("HardwareEccErrorsCorrected", None), 7),
        ("aws-cloudwatch-agent-test-dummy-embedded-trn1n.32xlarge-2024.json",
         ("HardwareEccErrorsUncorrected", None), 7),
        ("synthetic-inf2-2026.json", ("ExecutionsCompleted", None), 1873),
        ("synthetic-inf2-2026.json", ("ExecutionLatencyP99", None), 0.00692466),
        ("synthetic-trn2-lnc2-2025.json", ("ExecutionLatencyP50", None), 0.048211),
        ("synthetic-legacy-1x-inf1.json", ("ExecutionsCompleted", None), 123),
        ("all-smi-neuron.rs-trn1.2xlarge-no-runtime.json", ("ExecutionsCompleted", None), 0),
    ],
    ids=[
        "trn1n-core6-utilization",
        "trn1n-core0-memory-two-runtimes",
        "trn1n-generic-errors-two-runtimes",
        "trn1n-ecc-corrected",
        "trn1n-ecc-uncorrected",
        "inf2-completed-despite-failed-runtime",
        "inf2-p99",
        "trn2-p50-idle-runtime-ignored",
        "legacy-inference-summary",
        "no-runtime-idle-host",
    ],
)  # fmt: skip
def test_recorded_sample_spot_values(name: str, key: Key, value: float) -> None:
    raw = json.loads((REPORTS / name).read_bytes())
    assert _samples(raw)[key] == pytest.approx(value, rel=1e-12)


def test_idle_latency_is_absent_in_the_trn1n_sample() -> None:
    raw = json.loads(
        (REPORTS / "aws-cloudwatch-agent-test-dummy-embedded-trn1n.32xlarge-2024.json").read_bytes()
    )
    samples = _samples(raw)
    assert ("ExecutionLatencyP50", None) not in samples
    assert ("ExecutionLatencyP99", None) not in samples
