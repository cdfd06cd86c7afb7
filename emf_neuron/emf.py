"""Serialize metric documents as CloudWatch Embedded Metric Format lines; pure, no I/O.

The only user of ``aws_embedded_metrics`` (through ``emf_library``), and only of its pure pieces
(``MetricsContext``, ``LogSerializer``); ``MetricsLogger`` and ``metric_scope`` probe the
environment and are never used.
Every line it returns is one JSON object, ASCII only, at most ``MAX_DOCUMENT_BYTES`` long, with
finite values and at most 100 metrics and 30 dimensions per set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from emf_neuron.catalogue import MAX_ABS_VALUE
from emf_neuron.emf_library import LogSerializer, MetricsContext, StorageResolution, get_config
from emf_neuron.errors import ConfigError
from emf_neuron.mapping import Unit

# The Docker awslogs driver has split longer lines in some versions (moby#41794); stay below.
MAX_DOCUMENT_BYTES = 16 * 1024 - 1  # plus the newline the sink adds
MAX_METRICS_PER_DOCUMENT = 100
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSIONS_PER_SET = 30
_SIGNIFICANT_DIGITS = 9

Summary = Mapping[str, Mapping[str, float]]  # gauge name -> {"avg": ..., "max": ...}
PropertyValue = str | int | float | tuple[str, ...] | tuple[int, ...] | Summary


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of a document: one value, or every sample of the interval (at most 100 each)."""

    name: str
    unit: Unit
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Document:
    """What one EMF line says: metrics declared under every dimension set, plus free properties."""

    dimension_sets: tuple[tuple[str, ...], ...]
    labels: Mapping[str, str]
    metrics: tuple[Metric, ...]
    properties: Mapping[str, PropertyValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rendered:
    """Serialized lines, and how many values could not be written within the limits."""

    lines: tuple[bytes, ...]
    dropped_values: int = 0


def compact(value: float) -> float:
    """An integral value as an int (exact bytes and counts), others to 9 significant digits."""
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return float(f"{value:.{_SIGNIFICANT_DIGITS}g}")


def render(
    document: Document, namespace: str, timestamp_ms: int, *, high_resolution: bool = False
) -> Rendered:
    """Serialize ``document``, split into as many lines as every EMF limit requires."""
    metrics = _usable(document.metrics)
    dropped = _count(document.metrics) - _count(metrics)
    lines: list[bytes] = []
    for group in _groups(metrics):
        more, lost = _render_within_cap(
            replace(document, metrics=group), namespace, timestamp_ms, high_resolution
        )
        lines.extend(more)
        dropped += lost
    return Rendered(tuple(lines), dropped)


def usable(value: float) -> bool:
    """A value CloudWatch accepts: finite and within +-2^360."""
    return math.isfinite(value) and abs(value) <= MAX_ABS_VALUE


def preflight() -> None:
    """Fail fast if the environment turned EMF extraction off (AWS_EMF_DISABLE_METRIC_EXTRACTION).

    Raises:
        ConfigError: the library would write documents without their ``_aws`` block.
    """
    if get_config().disable_metric_extraction:
        msg = "AWS_EMF_DISABLE_METRIC_EXTRACTION is set: no metric would be extracted; unset it"
        raise ConfigError(msg)


def _count(metrics: Sequence[Metric]) -> int:
    return sum(len(m.values) for m in metrics)


def _usable(metrics: Sequence[Metric]) -> list[Metric]:
    """Finite, in-range values only; everything else never reaches the wire."""
    out = []
    for metric in metrics:
        values = tuple(compact(v) for v in metric.values if usable(v))
        if values:
            out.append(replace(metric, values=values))
    return out


def _groups(metrics: Sequence[Metric]) -> list[tuple[Metric, ...]]:
    """Groups of at most 100 metrics with at most 100 values each and no name twice in a group."""
    rounds: list[list[Metric]] = []
    for metric in metrics:
        for n, start in enumerate(range(0, len(metric.values), MAX_VALUES_PER_METRIC)):
            if n == len(rounds):
                rounds.append([])
            chunk = metric.values[start : start + MAX_VALUES_PER_METRIC]
            rounds[n].append(replace(metric, values=chunk))
    return [
        tuple(batch[i : i + MAX_METRICS_PER_DOCUMENT])
        for batch in rounds
        for i in range(0, len(batch), MAX_METRICS_PER_DOCUMENT)
    ]


def _finite(value: object) -> bool:
    """No NaN or infinity anywhere inside a property value."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_finite(v) for v in value.values())
    return True


def _render_within_cap(
    document: Document, namespace: str, timestamp_ms: int, high_resolution: bool
) -> tuple[list[bytes], int]:
    line = _serialize(document, namespace, timestamp_ms, high_resolution)
    if len(line) <= MAX_DOCUMENT_BYTES:
        return [line], 0
    if len(document.metrics) == 1:
        if document.properties:  # a single metric can only be too big because of its properties
            bare = replace(document, properties={})
            return _render_within_cap(bare, namespace, timestamp_ms, high_resolution)
        return [], len(document.metrics[0].values)
    half = len(document.metrics) // 2
    first, lost_first = _render_within_cap(
        replace(document, metrics=document.metrics[:half]), namespace, timestamp_ms, high_resolution
    )
    second, lost_second = _render_within_cap(
        replace(document, metrics=document.metrics[half:]), namespace, timestamp_ms, high_resolution
    )
    return first + second, lost_first + lost_second


def _serialize(
    document: Document, namespace: str, timestamp_ms: int, high_resolution: bool
) -> bytes:
    context = MetricsContext(namespace=namespace)
    context.set_dimensions(
        [{key: document.labels[key] for key in keys} for keys in document.dimension_sets],
        use_default=False,
    )
    resolution = StorageResolution.HIGH if high_resolution else StorageResolution.STANDARD
    for metric in document.metrics:
        for value in metric.values:
            context.put_metric(metric.name, value, metric.unit, resolution)
    for key, prop in document.properties.items():
        if _finite(prop):  # json.dumps would write NaN/Infinity: invalid JSON, rejected by EMF
            context.set_property(key, list(prop) if isinstance(prop, tuple) else prop)
    context.meta["Timestamp"] = timestamp_ms
    (text,) = LogSerializer.serialize(context)  # <= 100 metrics and values: always one line
    return text.encode("ascii")  # json.dumps escapes every non-ASCII and control character
