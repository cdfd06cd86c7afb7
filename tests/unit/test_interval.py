"""Interval: samples of one publish interval shaped into per-core and task documents."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import check_emf, metric_values

from emf_neuron import __version__
from emf_neuron.emf import Document, Metric, render
from emf_neuron.interval import MAX_LISTED_RUNTIMES, UNKNOWN, Health, Interval, Layout
from emf_neuron.mapping import SPECS, Sample
from emf_neuron.pipeline import Pipeline
from emf_neuron.report import HardwareInfo, InstanceInfo, Report, RuntimeReport

TS = 1_764_000_000_000
HEALTH = Health(up=True, restarts=2, report_age_seconds=4.0004, report_errors=3)
INSTANCE = InstanceInfo(
    instance_id="i-0abc",
    instance_type="inf2.xlarge",
    availability_zone="us-west-2a",
    region="us-west-2",
)


def _report(
    *runtimes: RuntimeReport, instance: InstanceInfo | None = INSTANCE, period: float = 5.0
) -> Report:
    return Report(runtimes=runtimes, instance=instance, period_seconds=period, valid=True)


def _rendered(docs: list[Document]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for document in docs:
        rendered = render(document, "NeuronMonitor", TS)
        assert rendered.dropped_values == 0
        out.extend(check_emf(line) for line in rendered.lines)
    return out


def _by_core(docs: list[Document]) -> dict[str | None, Document]:
    return {doc.labels.get("NeuronCore"): doc for doc in docs}


def _metrics(doc: Document) -> dict[str, tuple[float, ...]]:
    return {metric.name: metric.values for metric in doc.metrics}


def test_gauges_keep_every_sample_of_the_interval_in_order() -> None:
    # given: three reports of one interval
    interval = Interval()
    for value in (10.0, 73.0, 0.0):
        interval.add(_report(), [Sample("NeuronCoreUtilization", value, core="0")])
    # when
    docs = _by_core(interval.documents(Layout(), None))
    # then
    assert _metrics(docs["0"]) == {"NeuronCoreUtilization": (10.0, 73.0, 0.0)}


def test_counters_are_summed_over_the_interval() -> None:
    interval = Interval()
    for completed, errors in ((260.0, 23654.0), (260.0, 23692.0), (260.0, 23749.0)):
        interval.add(
            _report(), [Sample("ExecutionsCompleted", completed), Sample("ExecutionErrors", errors)]
        )
    docs = _by_core(interval.documents(Layout(), HEALTH))
    task = _metrics(docs[None])
    assert task["ExecutionsCompleted"] == (780.0,)
    assert task["ExecutionErrors"] == (23654.0 + 23692.0 + 23749.0,)


def test_task_gauges_keep_every_sample() -> None:
    interval = Interval()
    for value in (0.004, 0.006):
        interval.add(_report(), [Sample("ExecutionLatencyP99", value)])
    task = _metrics(_by_core(interval.documents(Layout(), None))[None])
    assert task == {"ExecutionLatencyP99": (0.004, 0.006)}


def test_per_core_document_declares_core_and_rollup_dimension_sets() -> None:
    # given
    interval = Interval()
    interval.add(
        _report(),
        [
            Sample("NeuronCoreUtilization", 50.0, core="1"),
            Sample("NeuronCoreMemoryUsed", 4096.0, core="1"),
        ],
    )
    # when
    docs = _by_core(interval.documents(Layout(), None))
    # then
    core = docs["1"]
    assert core.dimension_sets == (("InstanceId", "NeuronCore"), ("InstanceId",))
    assert core.labels["NeuronCore"] == "1"
    assert core.labels["InstanceId"] == "i-0abc"
    assert core.properties["InstanceType"] == "inf2.xlarge"
    assert "InstanceId" not in core.properties
    (rendered,) = _rendered([core])
    assert rendered["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["InstanceId", "NeuronCore"],
        ["InstanceId"],
    ]
    assert (rendered["InstanceId"], rendered["NeuronCore"]) == ("i-0abc", "1")
    assert rendered["NeuronCoreMemoryUsed"] == 4096


def test_core_documents_are_in_numeric_core_order_before_the_task_document() -> None:
    interval = Interval()
    samples = [Sample("NeuronCoreUtilization", 1.0, core=c) for c in ("10", "2", "x", "1")]
    interval.add(_report(), samples)
    docs = interval.documents(Layout(), HEALTH)
    assert [doc.labels.get("NeuronCore") for doc in docs] == ["1", "2", "10", "x", None]


def test_task_document_carries_health_metrics_and_properties() -> None:
    # given
    interval = Interval()
    runtimes = (RuntimeReport(pid=2211, tag="bert-api"), RuntimeReport(pid=12345, tag="12345"))
    interval.add(_report(*runtimes, period=5.000187734), [])
    interval.add(_report(*runtimes, period=4.9999), [])
    health = Health(
        up=False,
        restarts=1,
        report_age_seconds=12.34567,
        report_errors=7,
        last_exit="exit 1",
        output_dropped=4,
    )
    # when
    docs = interval.documents(Layout(), health)
    # then
    (task,) = docs
    assert task.dimension_sets == (("InstanceId",),)
    assert _metrics(task) == {
        "MonitorUp": (0.0,),
        "MonitorRestarts": (1.0,),
        "ReportAgeSeconds": (12.346,),
        "ReportErrors": (7.0,),
    }
    assert {m.name: m.unit for m in task.metrics}["ReportAgeSeconds"] == "Seconds"
    props = task.properties
    assert props["EmfNeuronVersion"] == __version__
    assert props["ReportsInInterval"] == 2
    assert props["RuntimeTags"] == ("12345", "bert-api")
    assert props["RuntimePids"] == (2211, 12345)
    assert props["ReportPeriodSeconds"] == 5.0
    assert props["MonitorLastExit"] == "exit 1"
    assert props["OutputLinesDropped"] == 4
    assert (props["InstanceType"], props["AvailabilityZone"], props["Region"]) == (
        "inf2.xlarge",
        "us-west-2a",
        "us-west-2",
    )
    (rendered,) = _rendered(docs)
    assert rendered["MonitorUp"] == 0
    assert rendered["RuntimePids"] == [2211, 12345]


def test_monitor_up_is_one_when_up_and_optional_properties_are_omitted() -> None:
    (task,) = Interval().documents(Layout(), HEALTH)
    assert _metrics(task)["MonitorUp"] == (1.0,)
    assert _metrics(task)["ReportAgeSeconds"] == (4.0,)
    assert "MonitorLastExit" not in task.properties
    assert "OutputLinesDropped" not in task.properties
    assert "ReportPeriodSeconds" not in task.properties
    assert task.properties["ReportsInInterval"] == 0


def test_runtime_tags_and_pids_are_capped_at_32() -> None:
    # given: 100 runtimes in one interval
    interval = Interval()
    runtimes = tuple(RuntimeReport(pid=1000 + n, tag=f"tag-{n:03d}") for n in range(100))
    interval.add(_report(*runtimes), [])
    # when
    (task,) = interval.documents(Layout(), HEALTH)
    # then
    assert MAX_LISTED_RUNTIMES == 32
    assert task.properties["RuntimeTags"] == tuple(f"tag-{n:03d}" for n in range(32))
    assert task.properties["RuntimePids"] == tuple(range(1000, 1032))
    assert len(_rendered([task])) == 1


def test_no_health_and_no_samples_means_no_document() -> None:
    interval = Interval()
    interval.add(_report(), [])
    assert interval.documents(Layout(), None) == []


def test_samples_do_not_leak_into_the_next_interval() -> None:
    interval = Interval()
    interval.add(
        _report(RuntimeReport(pid=1, tag="a")),
        [Sample("NeuronCoreUtilization", 5.0, core="0"), Sample("ExecutionsCompleted", 3.0)],
    )
    interval.documents(Layout(), HEALTH)
    (task,) = interval.documents(Layout(), HEALTH)
    assert set(_metrics(task)) == {
        "MonitorUp",
        "MonitorRestarts",
        "ReportAgeSeconds",
        "ReportErrors",
    }
    assert task.properties["RuntimeTags"] == ()
    assert task.properties["RuntimePids"] == ()
    assert task.properties["ReportsInInterval"] == 0


def test_labels_persist_across_intervals() -> None:
    # given: a report in the first interval, none in the second (the monitor is down)
    interval = Interval()
    interval.add(_report(), [Sample("NeuronCoreUtilization", 5.0, core="0")])
    interval.documents(Layout(), HEALTH)
    # when
    (task,) = interval.documents(Layout(), Health(False, 1, 60.0, 0))
    # then
    assert task.labels["InstanceId"] == "i-0abc"
    assert task.properties["InstanceType"] == "inf2.xlarge"


def test_the_latest_report_wins_for_labels() -> None:
    interval = Interval()
    interval.add(_report(), [])
    interval.add(_report(instance=InstanceInfo(instance_id="i-new")), [])
    (task,) = interval.documents(Layout(), HEALTH)
    assert task.labels["InstanceId"] == "i-new"
    assert task.properties["InstanceType"] == "inf2.xlarge"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (Layout(), {"InstanceId": UNKNOWN}),
        (
            Layout(dimensions=("InstanceId", "ClusterName")),
            {"InstanceId": UNKNOWN, "ClusterName": UNKNOWN},
        ),
        (
            Layout(dimensions=("ClusterName",), static_labels={"ClusterName": "prod"}),
            {"ClusterName": "prod"},
        ),
    ],
    ids=["instance-before-first-report", "two-unknown", "static-label"],
)
def test_missing_dimension_labels_become_unknown(layout: Layout, expected: dict[str, str]) -> None:
    # given: no report ever arrived
    interval = Interval()
    # when
    (task,) = interval.documents(layout, HEALTH)
    # then
    assert {key: task.labels[key] for key in expected} == expected
    (rendered,) = _rendered([task])
    assert {key: rendered[key] for key in expected} == expected


def test_unknown_dimension_is_filled_even_after_reports() -> None:
    interval = Interval()
    interval.add(_report(), [Sample("NeuronCoreUtilization", 1.0, core="0")])
    layout = Layout(dimensions=("InstanceId", "InstanceType", "ClusterName"))
    docs = _by_core(interval.documents(layout, None))
    assert docs["0"].labels["ClusterName"] == UNKNOWN
    assert docs["0"].labels["InstanceType"] == "inf2.xlarge"
    assert "InstanceType" not in docs["0"].properties
    assert docs["0"].dimension_sets == (
        ("InstanceId", "InstanceType", "ClusterName", "NeuronCore"),
        ("InstanceId", "InstanceType", "ClusterName"),
    )


def test_hardware_labels_become_properties() -> None:
    interval = Interval()
    report = Report(hardware=HardwareInfo(device_type="trainium2"), valid=True)
    interval.add(report, [])
    (task,) = interval.documents(Layout(), HEALTH)
    assert task.properties["NeuronDeviceType"] == "trainium2"


def test_a_long_interval_renders_within_limits_with_every_value() -> None:
    # given: 720 reports (1 h at 5 s) on 32 cores
    interval = Interval()
    for n in range(720):
        samples = [
            Sample("NeuronCoreUtilization", (n * c) % 101 + 0.5, core=str(c)) for c in range(32)
        ]
        interval.add(_report(), [*samples, Sample("ExecutionsCompleted", 1.0)])
    # when
    rendered = _rendered(interval.documents(Layout(), HEALTH))
    # then
    utilization = metric_values(rendered, "NeuronCoreUtilization")
    assert len(utilization) == 720 * 32
    assert sorted(utilization) == sorted((n * c) % 101 + 0.5 for n in range(720) for c in range(32))
    assert metric_values(rendered, "ExecutionsCompleted") == [720]


def test_health_metric_values_render_as_numbers() -> None:
    health = Health(up=True, restarts=0, report_age_seconds=0.0, report_errors=0)
    (doc,) = _rendered(Interval().documents(Layout(), health))
    assert (doc["MonitorUp"], doc["MonitorRestarts"], doc["ReportErrors"]) == (1, 0, 0)
    assert doc["ReportAgeSeconds"] == 0


def test_metric_units_follow_the_catalogue() -> None:
    interval = Interval()
    interval.add(
        _report(),
        [
            Sample("NeuronCoreUtilization", 1.0, core="0"),
            Sample("NeuronCoreMemoryUsed", 2.0, core="0"),
        ],
    )
    (core,) = interval.documents(Layout(), None)
    assert {m.name: m.unit for m in core.metrics} == {
        "NeuronCoreUtilization": "Percent",
        "NeuronCoreMemoryUsed": "Bytes",
    }
    assert all(isinstance(m, Metric) for m in core.metrics)


def test_j11_thousands_of_cores_and_runtimes_split_into_valid_documents() -> None:
    # given: J11, one report with 50 runtimes x 60 cores (3000 distinct cores) and long tags;
    # only core indices below 1024 may become NeuronCore dimension values
    runtimes = [
        {
            "pid": 100 + r,
            "neuron_runtime_tag": f"tag-{r:02d}-" + "t" * 240,
            "report": {
                "neuroncore_counters": {
                    "neuroncores_in_use": {
                        str(r * 60 + c): {"neuroncore_utilization": c + 0.5} for c in range(60)
                    }
                }
            },
        }
        for r in range(50)
    ]
    line = json.dumps({"neuron_runtime_data": runtimes}).encode() + b"\n"
    pipeline = Pipeline("NeuronMonitor", frozenset(SPECS), Layout(), 4 * 1024 * 1024)
    # when
    assert pipeline.feed(line) == 1
    lines = pipeline.render(pipeline.documents(HEALTH), TS)
    # then
    docs = [check_emf(line) for line in lines]
    assert len(docs) == 1024 + 1
    assert sorted(metric_values(docs, "NeuronCoreUtilization")) == sorted(
        c + 0.5 for r in range(50) for c in range(60) if r * 60 + c < 1024
    )
    assert pipeline.take_report_errors() == 3000 - 1024  # refused keys are counted
    assert pipeline.dropped_values == 0
    assert len(docs[-1]["RuntimeTags"]) == MAX_LISTED_RUNTIMES
