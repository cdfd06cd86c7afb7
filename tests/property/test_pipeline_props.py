"""Properties of the whole pure pipeline: hostile JSON in, valid EMF out, chunking irrelevant."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import REPORTS, check_emf

from emf_neuron.interval import Health, Interval, Layout
from emf_neuron.mapping import SPECS, map_report
from emf_neuron.pipeline import Pipeline
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

MODEST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ALL_METRICS = frozenset(SPECS)
TS = 1_764_000_000_000
HEALTH = Health(up=True, restarts=1, report_age_seconds=5.0, report_errors=2)
FIXTURES = sorted(p for p in REPORTS.iterdir() if p.suffix in {".json", ".jsonl"})
SAMPLE_DOCS = [json.loads(line) for p in FIXTURES for line in p.read_bytes().splitlines()]


def _keys(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


SCHEMA_KEYS = sorted({key for doc in SAMPLE_DOCS for key in _keys(doc)})
HOSTILE_TEXT = [
    "",
    " ",
    "line\nbreak",
    "\r\n",
    "\x00\x07\x1b[2J",
    '{"_aws": {"CloudWatchMetrics": []}}',
    '"}\n{"_aws":1}',
    "_aws",
    "caf\u00e9",
    "\ud800",
    "\u2028",
    "x" * 300,
    "0",
    "12",
    "NaN",
]

# -- (a) any JSON ---------------------------------------------------------------------------------

keys = (
    st.sampled_from(SCHEMA_KEYS)
    | st.sampled_from(["_aws", "error", "period"])
    | st.text(max_size=8)
)
scalars = (
    st.integers()
    | st.sampled_from([2**360, 2**361, -(2**400), 10**300, 10**4000, 0, 1, -1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e400, -1e400, 2.0**360, 5e-324, -0.0])
    | st.booleans()
    | st.none()
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE_TEXT)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=6),
    max_leaves=40,
)


@st.composite
def mutated_samples(draw: st.DrawFn) -> object:
    """A recorded report with one value somewhere inside replaced by an arbitrary one."""
    doc: Any = json.loads(json.dumps(draw(st.sampled_from(SAMPLE_DOCS))))
    node = doc
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            key = draw(st.integers(min_value=0, max_value=len(node) - 1))
        else:
            break
        child = node[key]
        if not isinstance(child, dict | list) or draw(st.booleans()):
            node[key] = draw(json_values)
            return doc
        node = child
    if isinstance(node, dict):
        node[draw(keys)] = draw(json_values)
    return doc


any_document = st.dictionaries(keys, json_values, max_size=8) | mutated_samples() | json_values


def _walk_keys(value: object, depth: int = 0) -> Iterator[tuple[str, int]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, depth
            yield from _walk_keys(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_keys(item, depth + 1)


def _assert_emf(lines: list[bytes]) -> list[dict[str, Any]]:
    docs = []
    for line in lines:
        doc = check_emf(line)
        assert [depth for key, depth in _walk_keys(doc) if key == "_aws"] == [0]
        docs.append(doc)
    return docs


@MODEST
@given(any_document, st.booleans())
def test_any_json_value_never_crashes_and_yields_only_valid_emf(
    document: object, twice: bool
) -> None:
    # given
    line = json.dumps(document, allow_nan=True).encode()
    pipeline = Pipeline("NeuronMonitor", ALL_METRICS, Layout(), 1 << 20)
    # when
    pipeline.feed(line + b"\n")
    if twice:
        pipeline.feed(line + b"\n")
    lines = pipeline.render(pipeline.documents(HEALTH), TS)
    # then
    assert pipeline.internal_errors == 0
    docs = _assert_emf(lines)
    assert docs[-1]["MonitorUp"] == 1  # the health document always comes last
    assert pipeline.dropped_values == 0


@MODEST
@given(st.lists(any_document, min_size=1, max_size=4), st.binary(max_size=40))
def test_a_stream_of_hostile_lines_and_garbage_never_crashes(
    documents: list[object], garbage: bytes
) -> None:
    stream = b"".join(json.dumps(d, allow_nan=True).encode() + b"\n" for d in documents)
    pipeline = Pipeline("NeuronMonitor", ALL_METRICS, Layout(), 4096)
    pipeline.feed(garbage + b"\n" + stream + garbage)
    pipeline.end_of_stream()
    assert pipeline.internal_errors == 0
    _assert_emf(pipeline.render(pipeline.documents(HEALTH), TS))


# -- (b) any Report --------------------------------------------------------------------------------

# parse guarantees labels are 1..256 printable ASCII and not blank; numbers are anything here.
labels = st.text(
    st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=256
).filter(str.strip)
core_names = st.integers(min_value=0, max_value=300).map(str) | labels
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 2.0**360)
maybe = st.none() | numbers
number_maps = st.dictionaries(
    st.sampled_from(["p50", "p99", "completed", "generic", "x"]) | labels, numbers, max_size=5
)
cores = st.builds(
    CoreCounters,
    core=core_names,
    utilization_percent=maybe,
    flops=maybe,
    effective_flops=maybe,
)
executions = st.builds(
    ExecutionStats,
    errors=number_maps,
    statuses=number_maps,
    total_latency=st.none() | number_maps,
    device_latency=st.none() | number_maps,
)
memories = st.builds(
    MemoryUsed,
    host_bytes=maybe,
    device_bytes=maybe,
    host_breakdown=number_maps,
    core_breakdown=st.dictionaries(core_names, number_maps, max_size=4),
)
runtimes = st.builds(
    RuntimeReport,
    pid=st.none() | st.integers(min_value=0, max_value=2**64),
    tag=st.none() | labels,
    cores=st.lists(cores, max_size=6).map(tuple),
    execution=st.none() | executions,
    memory=st.none() | memories,
    vcpu_user_percent=maybe,
    vcpu_system_percent=maybe,
)
ecc_keys = st.sampled_from(
    ["mem_ecc_corrected", "mem_ecc_uncorrected", "sram_ecc_corrected", "sram_ecc_uncorrected"]
)
reports = st.builds(
    Report,
    runtimes=st.lists(runtimes, max_size=4).map(tuple),
    ecc=st.none()
    | st.lists(
        st.builds(DeviceEcc, device=core_names, counts=st.dictionaries(ecc_keys, numbers)),
        max_size=4,
    ).map(tuple),
    host=st.none()
    | st.builds(
        HostStats,
        vcpu_average=st.dictionaries(st.sampled_from(["idle", "user"]), numbers, max_size=2),
        memory=st.dictionaries(st.sampled_from(["memory_used_bytes"]), numbers, max_size=1),
    ),
    instance=st.none()
    | st.builds(
        InstanceInfo,
        instance_id=st.none() | labels,
        instance_type=st.none() | labels,
        availability_zone=st.none() | labels,
        region=st.none() | labels,
        ultraserver_id=st.none() | labels,
    ),
    hardware=st.none()
    | st.builds(
        HardwareInfo,
        device_type=st.none() | labels,
        device_count=st.none() | st.integers(min_value=0, max_value=64),
        cores_per_device=st.none() | st.integers(min_value=0, max_value=8),
        device_memory_bytes=maybe,
        logical_core_config=st.none() | st.integers(min_value=0, max_value=4),
    ),
    period_seconds=st.none() | st.floats(min_value=0.001, max_value=86_399),
    group_errors=st.lists(st.sampled_from(["runtime", "memory_used"]), max_size=2).map(tuple),
    rejected_values=st.integers(min_value=0, max_value=100),
    valid=st.booleans(),
)


@MODEST
@given(st.lists(reports, min_size=1, max_size=3), st.booleans())
def test_any_report_maps_and_renders_within_every_limit(
    batch: list[Report], with_health: bool
) -> None:
    # given
    interval = Interval()
    # when
    for report in batch:
        samples = map_report(report, ALL_METRICS)
        assert all(sample.metric in SPECS for sample in samples)
        interval.add(report, samples)
    lines = []
    for document in interval.documents(Layout(), HEALTH if with_health else None):
        assert len(document.metrics) == len({m.name for m in document.metrics})
        pipeline = Pipeline("NeuronMonitor", ALL_METRICS, Layout(), 4096)
        lines.extend(pipeline.render([document], TS))
    # then
    docs = _assert_emf(lines)
    for doc in docs:
        for definition in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = doc[definition["Name"]]
            for item in value if isinstance(value, list) else [value]:
                assert math.isfinite(item)
    assert any("MonitorUp" in doc for doc in docs) == with_health


# -- (c) chunking ----------------------------------------------------------------------------------

JSONL = (REPORTS / "wandb-test_system_metrics_trainium-trn1.2xlarge-2022.jsonl").read_bytes()


def _render_stream(chunks: list[bytes]) -> tuple[list[bytes], int, int]:
    pipeline = Pipeline("NeuronMonitor", ALL_METRICS, Layout(), 1 << 20)
    valid = sum(pipeline.feed(chunk) for chunk in chunks) + pipeline.end_of_stream()
    health = Health(
        up=True, restarts=0, report_age_seconds=1.0, report_errors=pipeline.take_report_errors()
    )
    return pipeline.render(pipeline.documents(health), TS), valid, pipeline.report_errors


WHOLE = _render_stream([JSONL])


def test_the_whole_stream_is_three_valid_reports() -> None:
    lines, valid, _ = WHOLE
    assert valid == 3
    docs = _assert_emf(lines)
    assert next(d for d in docs if "ReportErrors" in d)["ReportErrors"] == 0


@MODEST
@given(st.lists(st.integers(min_value=0, max_value=len(JSONL)), max_size=40))
def test_any_chunking_of_a_real_stream_yields_the_same_documents(cuts: list[int]) -> None:
    # given
    points = sorted(set(cuts))
    edges = [0, *points, len(JSONL)]
    chunks = [JSONL[a:b] for a, b in itertools.pairwise(edges)]
    # when / then
    assert _render_stream(chunks) == WHOLE


@MODEST
@given(st.integers(min_value=1, max_value=len(JSONL)))
def test_fixed_size_chunking_of_a_real_stream_yields_the_same_documents(size: int) -> None:
    chunks = [JSONL[i : i + size] for i in range(0, len(JSONL), size)]
    assert _render_stream(chunks) == WHOLE
