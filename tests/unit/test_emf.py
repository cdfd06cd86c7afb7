"""emf.render and emf.compact: every line within every EMF limit, no value lost or invented.

``emf.preflight`` is not tested here: it reads the EMF library's configuration, which the library
captures from the environment at import time.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import pytest
from support import MAX_LINE, check_emf

from emf_neuron.emf import (
    MAX_DOCUMENT_BYTES,
    Document,
    Metric,
    PropertyValue,
    compact,
    render,
)

NAMESPACE = "NeuronMonitor"
TS = 1_764_000_000_000
BASE = ("InstanceId",)
LABELS = {"InstanceId": "i-0123456789abcdef0"}


def _doc(
    metrics: list[Metric],
    properties: dict[str, PropertyValue] | None = None,
    labels: dict[str, str] | None = None,
    dimension_sets: tuple[tuple[str, ...], ...] = (BASE,),
) -> Document:
    return Document(dimension_sets, labels or LABELS, tuple(metrics), properties or {})


def _lines(document: Document) -> list[dict[str, Any]]:
    rendered = render(document, NAMESPACE, TS)
    return [check_emf(line) for line in rendered.lines]


def _values_out(docs: list[dict[str, Any]]) -> Counter[tuple[str, float]]:
    """Every (metric, value) pair written, counting repeats."""
    out: Counter[tuple[str, float]] = Counter()
    for doc in docs:
        for definition in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = doc[definition["Name"]]
            for item in value if isinstance(value, list) else [value]:
                out[definition["Name"], item] += 1
    return out


def _values_in(metrics: list[Metric]) -> Counter[tuple[str, float]]:
    return Counter((m.name, v) for m in metrics for v in m.values)


# -- compact ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [
        (0.0, 0, int),
        (3.0, 3, int),
        (-2.0, -2, int),
        (34359738368.0, 34359738368, int),
        (float(2**53 - 1), 2**53 - 1, int),
        (float(2**53), 9.00719925e15, float),
        (1e300, 1e300, float),
        (1 / 3, 0.333333333, float),
        (41.4, 41.4, float),
        (4.999666547, 4.99966655, float),
        (89.01827638996558, 89.0182764, float),
        (123456789.25, 123456789.0, float),
        (1234567891.5, 1.23456789e9, float),
        (9.5367431640625e-05, 9.53674316e-05, float),
        (5e-324, 5e-324, float),
    ],
    ids=[
        "zero",
        "small-int",
        "negative-int",
        "device-memory-bytes",
        "largest-exact-int",
        "two-to-the-53",
        "huge-integral",
        "one-third",
        "short-decimal",
        "period",
        "utilization",
        "nine-digits-before-point",
        "ten-digits-rounds",
        "tiny-latency",
        "subnormal",
    ],
)
def test_compact(value: float, expected: float, kind: type) -> None:
    result = compact(value)
    assert result == expected
    assert type(result) is kind


def test_compact_keeps_integers_exact_up_to_two_to_the_53() -> None:
    for value in (2**31 + 1, 2**40 + 3, 10**15 + 7, 2**53 - 1):
        assert compact(float(value)) == value


# -- limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "lines"),
    [(1, 1), (100, 1), (101, 2), (250, 3), (1000, 10)],
    ids=["one", "exactly-100", "101", "250", "1000"],
)
def test_more_than_100_metrics_are_split_across_lines(count: int, lines: int) -> None:
    # given
    metrics = [Metric(f"Metric{n:04d}", "Count", (float(n),)) for n in range(count)]
    # when
    docs = _lines(_doc(metrics))
    # then
    assert len(docs) == lines
    assert all(len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) <= 100 for d in docs)
    assert _values_out(docs) == _values_in(metrics)


@pytest.mark.parametrize("count", [100, 101, 250, 1000], ids=["exactly-100", "101", "250", "1000"])
def test_more_than_100_values_of_one_metric_are_split_with_no_value_lost(count: int) -> None:
    # given: a gauge with one sample per report over a long interval
    values = tuple(float(n) + 0.5 for n in range(count))
    metric = Metric("NeuronCoreUtilization", "Percent", values)
    # when
    rendered = render(_doc([metric]), NAMESPACE, TS)
    docs = [check_emf(line) for line in rendered.lines]
    # then
    assert len(docs) == math.ceil(count / 100)
    assert _values_out(docs) == _values_in([metric])
    assert rendered.dropped_values == 0


def test_many_metrics_with_many_values_stay_under_the_size_cap() -> None:
    # given: 150 metrics x 120 values with long decimals (far over 16 KiB in one document)
    metrics = [
        Metric(f"Gauge{m:03d}", "Bytes", tuple(1234567.891 + m + v / 7 for v in range(120)))
        for m in range(150)
    ]
    # when
    rendered = render(_doc(metrics), NAMESPACE, TS)
    docs = [check_emf(line) for line in rendered.lines]
    # then
    assert all(len(line) <= MAX_DOCUMENT_BYTES for line in rendered.lines)
    assert rendered.dropped_values == 0
    assert sum(_values_out(docs).values()) == 150 * 120
    assert {name for name, _ in _values_out(docs)} == {m.name for m in metrics}


def test_no_metric_name_is_declared_twice_in_one_line() -> None:
    metrics = [Metric(f"M{m}", "Count", tuple(float(v) for v in range(250))) for m in range(3)]
    for line in render(_doc(metrics), NAMESPACE, TS).lines:
        names = [d["Name"] for d in check_emf(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
        assert len(names) == len(set(names))


def test_oversized_properties_are_stripped_but_values_kept() -> None:
    # given: one metric and a 20 KiB property
    metric = Metric("MonitorUp", "None", (1.0,))
    document = _doc([metric], properties={"Big": "x" * 20_000, "Small": "kept?"})
    # when
    rendered = render(document, NAMESPACE, TS)
    docs = [check_emf(line) for line in rendered.lines]
    # then
    assert len(docs) == 1
    assert docs[0]["MonitorUp"] == 1
    assert "Big" not in docs[0]
    assert docs[0]["InstanceId"] == LABELS["InstanceId"]
    assert rendered.dropped_values == 0


def test_properties_that_push_a_document_over_the_cap_split_it() -> None:
    # given: 13 KiB of properties and 80 metrics: together over 16 KiB, apart under it
    metrics = [Metric(f"Metric{n:02d}", "Count", (float(n), float(n) + 0.25)) for n in range(80)]
    tags = tuple(f"tag-{n:03d}-" + "t" * 400 for n in range(32))
    properties: dict[str, PropertyValue] = {"RuntimeTags": tags, "EmfNeuronVersion": "0.1.0"}
    document = _doc(metrics, properties=properties)
    assert len(json.dumps(properties)) > 12_000
    # when
    rendered = render(document, NAMESPACE, TS)
    docs = [check_emf(line) for line in rendered.lines]
    # then
    assert len(docs) > 1
    assert max(len(line) for line in rendered.lines) <= MAX_LINE
    assert _values_out(docs) == _values_in(metrics)
    assert rendered.dropped_values == 0
    assert all(doc["RuntimeTags"] == list(tags) for doc in docs)


def test_labels_too_big_for_any_line_drop_and_count_instead_of_exceeding_the_cap() -> None:
    # given: 30 dimensions of 1000 characters: no line can hold them
    dims = tuple(f"Dim{n:02d}" for n in range(30))
    labels = dict.fromkeys(dims, "v" * 1000)
    metric = Metric("MonitorUp", "None", (1.0, 0.0, 1.0))
    # when
    rendered = render(_doc([metric], labels=labels, dimension_sets=(dims,)), NAMESPACE, TS)
    # then
    assert all(len(line) <= MAX_DOCUMENT_BYTES for line in rendered.lines)
    assert rendered.lines == ()
    assert rendered.dropped_values == 3


@pytest.mark.parametrize(
    "bad",
    [math.nan, math.inf, -math.inf, float("1e400"), 2.0**361, -(2.0**361)],
    ids=["nan", "inf", "minus-inf", "1e400", "over-2^360", "under-minus-2^360"],
)
def test_non_finite_and_out_of_range_values_never_reach_output(bad: float) -> None:
    # given
    metrics = [
        Metric("Mixed", "Count", (1.0, bad, 2.0)),
        Metric("OnlyBad", "Count", (bad,)),
        Metric("Good", "Count", (3.0,)),
    ]
    # when
    rendered = render(_doc(metrics), NAMESPACE, TS)
    docs = [check_emf(line) for line in rendered.lines]
    # then
    assert _values_out(docs) == Counter({("Mixed", 1): 1, ("Mixed", 2): 1, ("Good", 3): 1})
    assert rendered.dropped_values == 2
    for line in rendered.lines:
        assert b"NaN" not in line
        assert b"Infinity" not in line


def test_a_document_with_only_bad_values_renders_nothing() -> None:
    rendered = render(_doc([Metric("X", "Count", (math.nan, math.inf))]), NAMESPACE, TS)
    assert rendered.lines == ()
    assert rendered.dropped_values == 2


def test_value_at_2_to_the_360_is_kept() -> None:
    (line,) = render(_doc([Metric("Big", "Count", (2.0**360,))]), NAMESPACE, TS).lines
    assert check_emf(line)["Big"] == pytest.approx(2.0**360, rel=1e-8)


# -- shape ----------------------------------------------------------------------------------------


def test_document_shape() -> None:
    # given: a per-core document with two dimension sets and a property
    document = Document(
        (("InstanceId", "NeuronCore"), ("InstanceId",)),
        {"InstanceId": "i-1", "NeuronCore": "3"},
        (
            Metric("NeuronCoreUtilization", "Percent", (10.0, 20.5)),
            Metric("NeuronCoreMemoryUsed", "Bytes", (4096.0,)),
        ),
        {"InstanceType": "inf2.xlarge"},
    )
    # when
    (line,) = render(document, "Custom/NS", TS).lines
    doc = check_emf(line)
    # then
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert doc["_aws"]["Timestamp"] == TS
    assert directive["Namespace"] == "Custom/NS"
    assert directive["Dimensions"] == [["InstanceId", "NeuronCore"], ["InstanceId"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "NeuronCoreUtilization": "Percent",
        "NeuronCoreMemoryUsed": "Bytes",
    }
    assert doc["NeuronCoreUtilization"] == [10, 20.5]
    assert doc["NeuronCoreMemoryUsed"] == 4096
    assert (doc["InstanceId"], doc["NeuronCore"], doc["InstanceType"]) == (
        "i-1",
        "3",
        "inf2.xlarge",
    )
    assert [key for key in doc if key == "_aws"] == ["_aws"]


@pytest.mark.parametrize(
    ("high", "resolution"), [(False, None), (True, 1)], ids=["standard", "high"]
)
def test_storage_resolution(high: bool, resolution: int | None) -> None:
    document = _doc([Metric("M", "Count", (1.0,))])
    (line,) = render(document, NAMESPACE, TS, high_resolution=high).lines
    (definition,) = check_emf(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert definition.get("StorageResolution") == resolution


@pytest.mark.parametrize(
    "text",
    ["line\nbreak", "caf\u00e9", '{"_aws": {"CloudWatchMetrics": []}}', "\ud800", "\x00\x1b"],
    ids=["newline", "non-ascii", "aws-object", "lone-surrogate", "control"],
)
def test_hostile_property_text_stays_inside_one_ascii_line(text: str) -> None:
    document = _doc([Metric("M", "Count", (1.0,))], properties={"MonitorLastExit": text})
    (line,) = render(document, NAMESPACE, TS).lines
    doc = check_emf(line)
    assert doc["MonitorLastExit"] == text
    assert list(doc).count("_aws") == 1
    assert doc["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "M", "Unit": "Count"}]
