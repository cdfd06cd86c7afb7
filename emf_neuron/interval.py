"""Collect samples over one publish interval and shape them into EMF documents; pure, no I/O.

Gauges keep every sample (CloudWatch then has min/max/avg/percentiles of the interval), counters
are summed. One document per NeuronCore declares its metrics under the base dimensions plus
``NeuronCore`` *and* under the base dimensions alone (a free task-wide rollup); one task document
carries the task metrics, the watchdog's health metrics and the queryable properties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from emf_neuron import __version__
from emf_neuron.emf import Document, Metric, PropertyValue
from emf_neuron.mapping import SPECS, Sample
from emf_neuron.report import Report

CORE_DIMENSION = "NeuronCore"
UNKNOWN = "unknown"
MAX_LISTED_RUNTIMES = 32


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
    """How documents are shaped: base dimension names and labels known before any report."""

    dimensions: tuple[str, ...] = ("InstanceId",)
    static_labels: Mapping[str, str] = field(default_factory=dict)
    static_properties: Mapping[str, PropertyValue] = field(default_factory=dict)


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

    def __init__(self) -> None:
        self._gauges: dict[tuple[str, str | None], list[float]] = {}
        self._counters: dict[tuple[str, str | None], float] = {}
        self._labels: dict[str, str] = {}
        self._tags: set[str] = set()
        self._pids: set[int] = set()
        self._period: float | None = None
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
            key = (sample.metric, sample.core)
            if SPECS[sample.metric].kind == "counter":
                self._counters[key] = self._counters.get(key, 0.0) + sample.value
            else:
                self._gauges.setdefault(key, []).append(sample.value)

    @property
    def pending_samples(self) -> int:
        """Samples held in memory, a bound the loop can check."""
        return sum(len(v) for v in self._gauges.values()) + len(self._counters)

    def documents(self, layout: Layout, health: Health | None) -> list[Document]:
        """Shape everything collected into documents and start a new interval.

        Labels persist across intervals, so documents keep their dimensions while the child is down.
        """
        labels = {**self._labels, **layout.static_labels}
        labels.update({key: UNKNOWN for key in layout.dimensions if key not in labels})
        metrics = self._metrics()
        docs = [
            self._core_document(core, core_metrics, layout, labels)
            for core, core_metrics in sorted(metrics.items(), key=_core_order)
            if core is not None
        ]
        task_metrics = metrics.get(None, []) + (_health_metrics(health) if health else [])
        if task_metrics:
            properties = {
                **_plain(labels, layout),
                **self._task_properties(health),
                **layout.static_properties,
            }
            docs.append(Document((layout.dimensions,), labels, tuple(task_metrics), properties))
        self._reset()
        return docs

    def _metrics(self) -> dict[str | None, list[Metric]]:
        by_core: dict[str | None, list[Metric]] = {}
        for (name, core), values in self._gauges.items():
            by_core.setdefault(core, []).append(Metric(name, SPECS[name].unit, tuple(values)))
        for (name, core), total in self._counters.items():
            by_core.setdefault(core, []).append(Metric(name, SPECS[name].unit, (total,)))
        return by_core

    @staticmethod
    def _core_document(
        core: str | None, metrics: list[Metric], layout: Layout, labels: Mapping[str, str]
    ) -> Document:
        core_labels = {**labels, CORE_DIMENSION: core or UNKNOWN}
        return Document(
            ((*layout.dimensions, CORE_DIMENSION), layout.dimensions),
            core_labels,
            tuple(metrics),
            _plain(labels, layout),
        )

    def _task_properties(self, health: Health | None) -> dict[str, PropertyValue]:
        properties: dict[str, PropertyValue] = {
            "EmfNeuronVersion": __version__,
            "ReportsInInterval": self.reports,
            "RuntimeTags": tuple(sorted(self._tags)[:MAX_LISTED_RUNTIMES]),
            "RuntimePids": tuple(sorted(self._pids)[:MAX_LISTED_RUNTIMES]),
        }
        if self._period is not None:
            properties["ReportPeriodSeconds"] = round(self._period, 3)
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


def _plain(labels: Mapping[str, str], layout: Layout) -> dict[str, PropertyValue]:
    """Labels that are not dimensions still travel, as properties for Logs Insights."""
    return {key: value for key, value in labels.items() if key not in layout.dimensions}


def _core_order(item: tuple[str | None, list[Metric]]) -> tuple[int, str]:
    core = item[0] or ""
    return (int(core), core) if core.isdigit() else (1 << 30, core)


def _health_metrics(health: Health) -> list[Metric]:
    values = {
        "MonitorUp": 1.0 if health.up else 0.0,
        "MonitorRestarts": float(health.restarts),
        "ReportAgeSeconds": round(health.report_age_seconds, 3),
        "ReportErrors": float(health.report_errors),
    }
    return [Metric(name, SPECS[name].unit, (value,)) for name, value in values.items()]
