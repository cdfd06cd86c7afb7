"""Collect samples over one publish interval and shape them into EMF documents; pure, no I/O.

Gauges keep every sample (CloudWatch then has min/max/avg/percentiles of the interval), counters
are summed. One document per NeuronCore (or NeuronDevice) declares its metrics under each base
dimension set plus ``NeuronCore`` *and* under the base sets alone (a free task-wide rollup); one
document per admitted runtime tag (opt-in, capped); one task document carries the task metrics,
the watchdog's health metrics and the queryable properties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from emf_neuron import __version__
from emf_neuron.emf import Document, Metric, PropertyValue, compact, usable
from emf_neuron.mapping import SPECS, Sample
from emf_neuron.report import Report

CORE_DIMENSION = "NeuronCore"
DEVICE_DIMENSION = "NeuronDevice"
TAG_DIMENSION = "RuntimeTag"
UNKNOWN = "unknown"
MAX_LISTED_RUNTIMES = 32
MAX_REFUSED_TAGS = 1000
ScopeKey = tuple[str, str] | None  # (dimension name, value), or None for the task


@dataclass(frozen=True, slots=True)
class Health:
    """The watchdog's view at publish time."""

    up: bool
    restarts: int
    report_age_seconds: float
    report_errors: int
    last_exit: str | None = None
    output_dropped: int = 0


@dataclass(frozen=True, slots=True)
class Layout:
    """How documents are shaped: dimension sets, labels known before any report, counter policy."""

    dimensions: tuple[str, ...] = ("InstanceId",)
    static_labels: Mapping[str, str] = field(default_factory=dict)
    extra_dimension_sets: tuple[tuple[str, ...], ...] = ()
    sparse_counters: bool = False
    max_runtime_tags: int = 10
    high_resolution: bool = False

    @property
    def dimension_sets(self) -> tuple[tuple[str, ...], ...]:
        """Every base dimension set (the first one is ``dimensions``)."""
        return (self.dimensions, *self.extra_dimension_sets)

    def sets_for(self, scope: ScopeKey) -> tuple[tuple[str, ...], ...]:
        """The dimension sets of a document of ``scope``."""
        if scope is None:
            return self.dimension_sets
        scoped = tuple((*dims, scope[0]) for dims in self.dimension_sets)
        return scoped if scope[0] == TAG_DIMENSION else (*scoped, *self.dimension_sets)


def report_labels(report: Report) -> dict[str, str]:
    """Labels a report knows about its host (already validated as printable ASCII by parse)."""
    instance, hardware = report.instance, report.hardware
    pairs = {
        "InstanceId": instance.instance_id if instance else None,
        "InstanceType": instance.instance_type if instance else None,
        "AvailabilityZone": instance.availability_zone if instance else None,
        "Region": instance.region if instance else None,
        "UltraServerId": instance.ultraserver_id if instance else None,
        "NeuronDeviceType": hardware.device_type if hardware else None,
    }
    return {key: value for key, value in pairs.items() if value is not None}


class Interval:
    """Accumulates the samples of the reports received since the last publish."""

    def __init__(self, max_runtime_tags: int = 10) -> None:
        self._gauges: dict[tuple[str, ScopeKey], list[float]] = {}
        self._counters: dict[tuple[str, ScopeKey], float] = {}
        self._labels: dict[str, str] = {}
        self._tags: set[str] = set()
        self._pids: set[int] = set()
        self._period: float | None = None
        self._max_tags = max_runtime_tags
        self._admitted_tags: set[str] = set()  # for the process lifetime: a cardinality guard
        self.refused_tags: set[str] = set()
        self.reports = 0

    def add(self, report: Report, samples: Sequence[Sample]) -> None:
        """Record one report's samples and remember its labels (the latest report wins)."""
        self.reports += 1
        self._labels.update(report_labels(report))
        self._period = report.period_seconds or self._period
        for runtime in report.runtimes:
            if runtime.tag is not None:
                self._tags.add(runtime.tag)
            if runtime.pid is not None:
                self._pids.add(runtime.pid)
        for sample in samples:
            scope = self._scope(sample)
            if isinstance(scope, bool):  # refused by the cardinality cap
                continue
            key = (sample.metric, scope)
            if SPECS[sample.metric].kind == "counter":
                self._counters[key] = self._counters.get(key, 0.0) + sample.value
            else:
                self._gauges.setdefault(key, []).append(sample.value)

    def _scope(self, sample: Sample) -> ScopeKey | bool:
        """The sample's document scope, or False for a tag refused by the cardinality cap."""
        if sample.core is not None:
            return (CORE_DIMENSION, sample.core)
        if sample.device is not None:
            return (DEVICE_DIMENSION, sample.device)
        if sample.runtime_tag is None:
            return None
        tag = sample.runtime_tag
        if tag not in self._admitted_tags:
            if len(self._admitted_tags) >= self._max_tags:
                if len(self.refused_tags) < MAX_REFUSED_TAGS:  # bounded too: a count, in effect
                    self.refused_tags.add(tag)
                return False
            self._admitted_tags.add(tag)
        return (TAG_DIMENSION, tag)

    def documents(self, layout: Layout, health: Health | None) -> list[Document]:
        """Shape everything collected into documents and start a new interval.

        Labels persist across intervals, so documents keep their dimensions while the child is down.
        """
        labels = {**self._labels, **layout.static_labels}
        for dims in layout.dimension_sets:
            labels.update({key: UNKNOWN for key in dims if key not in labels})
        metrics = self._metrics(layout.sparse_counters)
        plain = _plain(labels, layout)
        docs = [
            Document(
                layout.sets_for(scope),
                {**labels, scope[0]: scope[1]},
                tuple(found),
                {**plain, **_summary(found)},
            )
            for scope, found in sorted(metrics.items(), key=_scope_order)
            if scope is not None
        ]
        task_metrics = metrics.get(None, []) + (_health_metrics(health) if health else [])
        if task_metrics:
            properties = {
                **plain,
                **self._task_properties(health),
                **_summary(task_metrics),
            }
            docs.append(Document(layout.dimension_sets, labels, tuple(task_metrics), properties))
        self._reset()
        return docs

    def _metrics(self, sparse_counters: bool) -> dict[ScopeKey, list[Metric]]:
        by_scope: dict[ScopeKey, list[Metric]] = {}
        for (name, scope), values in self._gauges.items():
            by_scope.setdefault(scope, []).append(Metric(name, SPECS[name].unit, tuple(values)))
        for (name, scope), total in self._counters.items():
            if total or not sparse_counters:
                by_scope.setdefault(scope, []).append(Metric(name, SPECS[name].unit, (total,)))
        return by_scope

    def _task_properties(self, health: Health | None) -> dict[str, PropertyValue]:
        properties: dict[str, PropertyValue] = {
            "EmfNeuronVersion": __version__,
            "ReportsInInterval": self.reports,
            "RuntimeTags": tuple(sorted(self._tags)[:MAX_LISTED_RUNTIMES]),
            "RuntimePids": tuple(sorted(self._pids)[:MAX_LISTED_RUNTIMES]),
        }
        if self._period is not None:
            properties["ReportPeriodSeconds"] = round(self._period, 3)
        if self.refused_tags:
            properties["RuntimeTagsOverLimit"] = len(self.refused_tags)
        if health is not None and health.last_exit:
            properties["MonitorLastExit"] = health.last_exit
        if health is not None and health.output_dropped:
            properties["OutputLinesDropped"] = health.output_dropped
        return properties

    def _reset(self) -> None:
        self._gauges.clear()
        self._counters.clear()
        self._tags.clear()
        self._pids.clear()
        self.reports = 0


def _summary(metrics: list[Metric]) -> dict[str, PropertyValue]:
    """``Summary``: the average and maximum of every gauge, for Logs Insights.

    Gauges carry every sample of the interval as an array, which Logs Insights cannot aggregate
    (it flattens arrays into ``Name.0``, ``Name.1``...); one number per gauge and statistic can.
    """
    gauges = {}
    for metric in metrics:
        values = [v for v in metric.values if usable(v)]
        if SPECS[metric.name].kind == "gauge" and values:
            average = compact(sum(values) / len(values))
            gauges[metric.name] = {"avg": average, "max": compact(max(values))}
    return {"Summary": gauges} if gauges else {}


def _plain(labels: Mapping[str, str], layout: Layout) -> dict[str, PropertyValue]:
    """Labels that are not dimensions still travel, as properties for Logs Insights."""
    dims = {key for dims in layout.dimension_sets for key in dims}
    return {key: value for key, value in labels.items() if key not in dims}


def _scope_order(item: tuple[ScopeKey, list[Metric]]) -> tuple[str, int, str]:
    name, value = item[0] or ("", "")
    return (name, int(value), value) if value.isdigit() else (name, 1 << 30, value)


def _health_metrics(health: Health) -> list[Metric]:
    values = {
        "MonitorUp": 1.0 if health.up else 0.0,
        "MonitorRestarts": float(health.restarts),
        "ReportAgeSeconds": round(health.report_age_seconds, 3),
        "ReportErrors": float(health.report_errors),
    }
    return [Metric(name, SPECS[name].unit, (value,)) for name, value in values.items()]
