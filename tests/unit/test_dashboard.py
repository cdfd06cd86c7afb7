"""Dashboard body and alarm definitions (pure): every published metric is shown, only metrics the
pipeline really emits are referenced, the dimension set is a parameter, and the alarm plan says
create / update / unchanged correctly."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

import pytest
from support import EXPECTED

from emf_neuron import alarms, dashboard, interval
from emf_neuron.catalogue import CATALOGUE, PROFILES
from emf_neuron.dashboard import DEFAULT_DIMENSIONS, dashboard_body, search

_SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"([^\"]+)\"', '(\w+)', (\d+)\)")


def golden_metrics() -> set[str]:
    """Every metric name declared in the golden EMF documents."""
    names: set[str] = set()
    for path in EXPECTED.glob("*.emf.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
                names.update(metric["Name"] for metric in directive["Metrics"])
    return names


def searches(body: dict[str, Any]) -> list[tuple[list[str], str, str, int]]:
    """(schema terms, metric, stat, period) of every SEARCH in ``body``."""
    found = []
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            for entry in line:
                match = _SEARCH.fullmatch(entry["expression"])
                assert match, entry["expression"]
                terms = [term.strip('"') for term in match[1].split(",")]
                found.append((terms, match[2], match[3], int(match[4])))
    return found


def body_for(profile: str = "standard", dims: tuple[str, ...] = DEFAULT_DIMENSIONS) -> Any:
    return dashboard_body("NeuronMonitor", dims, "us-east-1", PROFILES[profile])


def test_standard_dashboard_shows_every_standard_metric_and_nothing_else() -> None:
    shown = {metric for _, metric, _, _ in searches(body_for())}
    assert shown == PROFILES["standard"]
    assert shown <= golden_metrics()


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_metric_of_a_profile_is_shown(profile: str) -> None:
    shown = {metric for _, metric, _, _ in searches(body_for(profile))}
    assert shown == PROFILES[profile]


def test_full_dashboard_shows_every_catalogue_entry_with_real_names() -> None:
    shown = {metric for _, metric, _, _ in searches(body_for("full"))}
    assert shown == {spec.name for spec in CATALOGUE}
    assert shown <= golden_metrics()


def test_searches_use_the_namespace_and_the_dimension_set_given() -> None:
    dims = ("ClusterName", "ServiceName")
    text = json.dumps(body_for("full", dims))
    assert "InstanceId" not in text
    for terms, metric, _, period in searches(body_for("full", dims)):
        scope = {spec.name: spec.scope for spec in CATALOGUE}[metric]
        extra = {"core": [interval.CORE_DIMENSION], "device": [interval.DEVICE_DIMENSION]}
        assert terms == ["NeuronMonitor", *dims, *extra.get(scope, [])] or (
            scope == "core" and terms == ["NeuronMonitor", *dims]  # the task-wide rollup
        )
        assert period == 60


def test_scope_dimensions_are_the_ones_documents_carry() -> None:
    assert dashboard.SCOPE_DIMENSIONS == {
        "core": interval.CORE_DIMENSION,
        "device": interval.DEVICE_DIMENSION,
        "runtime": interval.TAG_DIMENSION,
    }


def test_utilization_per_core_and_task_wide() -> None:
    found = [
        (terms[-1], stat)
        for terms, metric, stat, _ in searches(body_for())
        if metric == "NeuronCoreUtilization"
    ]
    assert found == [
        ("NeuronCore", "Average"),
        ("InstanceId", "Average"),
        ("InstanceId", "Maximum"),
    ]


def test_search_quotes_names_with_special_characters() -> None:
    expression = search(
        "Neuron/Monitor", ("ClusterName", "task-family"), "MonitorUp", "Minimum", 60
    )
    assert expression == (
        'SEARCH(\'{"Neuron/Monitor",ClusterName,"task-family"} '
        "MetricName=\"MonitorUp\"', 'Minimum', 60)"
    )


def test_widgets_tile_without_overlap_and_ids_are_unique() -> None:
    cells: set[tuple[int, int]] = set()
    for widget in body_for("full")["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        area = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not cells & area
        cells |= area
        ids = [entry["id"] for line in widget["properties"].get("metrics", []) for entry in line]
        assert len(ids) == len(set(ids))
        assert all(re.fullmatch(r"[a-z]\w*", i) for i in ids)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emf-neuron")
    commands = parser.add_subparsers(dest="command")
    dashboard.add_dashboard_parser(commands)
    alarms.add_alarms_parser(commands)
    return parser


def test_dashboard_flags_and_defaults() -> None:
    args = _parser().parse_args(["dashboard"])
    assert (args.namespace, args.dimensions, args.profile, args.apply) == (
        "NeuronMonitor",
        ("InstanceId",),
        "standard",
        False,
    )
    args = _parser().parse_args(["dashboard", "--dimensions", "ClusterName,ServiceName"])
    assert args.dimensions == ("ClusterName", "ServiceName")


@pytest.mark.parametrize("value", ["", "A,,B", "A,A", "1abc", "A B"])
def test_bad_dimension_names(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        dashboard.dimension_names(value)


# -- alarms ---------------------------------------------------------------------------------------


def requests() -> dict[str, dict[str, Any]]:
    target = alarms.Target("NeuronMonitor", (("InstanceId", "i-0abc"),), ("arn:topic",))
    made = alarms.alarm_requests(target)
    return {str(request["AlarmName"]): request for request in made}


def test_monitor_down_alarm() -> None:
    alarm = requests()["NeuronMonitor-MonitorDown-i-0abc"]
    assert {k: alarm[k] for k in ("MetricName", "Statistic", "Period", "EvaluationPeriods")} == {
        "MetricName": "MonitorUp",
        "Statistic": "Minimum",
        "Period": 60,
        "EvaluationPeriods": 3,
    }
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": "i-0abc"}]
    assert alarm["AlarmActions"] == alarm["OKActions"] == ["arn:topic"]


def test_ecc_alarm() -> None:
    alarm = requests()["NeuronMonitor-EccUncorrected-i-0abc"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == (
        "HardwareEccErrorsUncorrected",
        "Sum",
        1,
    )
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_error_rate_alarm_is_metric_math_over_real_metrics() -> None:
    alarm = requests()["NeuronMonitor-ErrorRate-i-0abc"]
    metrics = {entry["Id"]: entry for entry in alarm["Metrics"]}
    assert metrics["errors"]["MetricStat"]["Metric"]["MetricName"] == "ExecutionErrors"
    assert metrics["completed"]["MetricStat"]["Metric"]["MetricName"] == "ExecutionsCompleted"
    expression = metrics["rate"]["Expression"]
    assert re.sub(r"FILL\((\w+), 0\)", r"\1", expression) == ("100 * errors / (errors + completed)")
    assert [entry["ReturnData"] for entry in alarm["Metrics"]] == [False, False, True]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (5.0, "GreaterThanThreshold")
    assert "MetricName" not in alarm


def test_alarms_reference_only_catalogue_metrics() -> None:
    names = {spec.name for spec in CATALOGUE}
    for alarm in requests().values():
        used = [alarm.get("MetricName")] + [
            entry["MetricStat"]["Metric"]["MetricName"]
            for entry in alarm.get("Metrics", [])
            if "MetricStat" in entry
        ]
        assert {name for name in used if name} <= names


def test_plan_creates_updates_and_leaves_alone() -> None:
    wanted = list(requests().values())
    existing: dict[str, dict[str, Any]] = {}
    assert [c.action for c in alarms.plan(wanted, existing)] == ["create"] * 3
    existing = {str(r["AlarmName"]): json.loads(json.dumps(r)) for r in wanted}
    first = existing["NeuronMonitor-MonitorDown-i-0abc"]
    first["Threshold"] = 1  # AWS answers 1.0 or 1: the same
    first["AlarmArn"] = "arn:aws:cloudwatch:..."  # fields we do not set are ignored
    first["Dimensions"] = [{"Value": "i-0abc", "Name": "InstanceId"}]
    assert [c.action for c in alarms.plan(wanted, existing)] == ["unchanged"] * 3
    first["EvaluationPeriods"] = 5
    first["AlarmActions"] = []
    change = alarms.plan(wanted, existing)[0]
    assert (change.action, change.fields) == ("update", ("AlarmActions", "EvaluationPeriods"))


def test_missing_fields_match_empty_requests() -> None:
    assert alarms.same([], None)
    assert alarms.same(False, None)
    assert not alarms.same(["arn"], None)
    assert not alarms.same(True, 1)


def test_dimension_values() -> None:
    assert alarms.dimension_values("ClusterName=prod, ServiceName=bert-api") == (
        ("ClusterName", "prod"),
        ("ServiceName", "bert-api"),
    )
    for bad in ("InstanceId", "InstanceId=", "=x", "A=1,A=2"):
        with pytest.raises(argparse.ArgumentTypeError):
            alarms.dimension_values(bad)


def test_alarms_flags() -> None:
    args = _parser().parse_args(["alarms", "--dimension-values", "InstanceId=i-0abc"])
    assert (args.dimension_values, args.alarm_action, args.apply) == (
        (("InstanceId", "i-0abc"),),
        [],
        False,
    )


def test_a_panel_shows_only_the_metrics_asked_for() -> None:
    (panel,) = dashboard.panels(["ExecutionErrors"])
    assert panel.metrics == ("ExecutionErrors",)
    assert panel.title == "Executions completed and failed"
