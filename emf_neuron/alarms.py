"""Recommended CloudWatch alarms on emf-neuron's metrics, and ``emf-neuron alarms``.

Owns the alarm definitions (monitor down, uncorrected ECC errors, execution error rate) for one
set of concrete dimension values, and the plan: each alarm is compared with what DescribeAlarms
returns and is to be created, updated or left unchanged. The dry run (the default) reads and
reports the plan; only ``--apply`` writes (PutMetricAlarm). It must not import boto3 (see
``aws_client``) nor assume a dimension set: the names come from ``--dimension-values``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from emf_neuron import aws_client
from emf_neuron.dashboard import dimension_names

Request = dict[str, object]
Action = Literal["create", "update", "unchanged"]
ERROR_RATE_PERCENT = 5.0
ERROR_RATE_PERIOD_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Change:
    """What applying one alarm does: create it, update the named fields, or nothing."""

    name: str
    action: Action
    fields: tuple[str, ...] = ()


class AlarmsApi(Protocol):
    """The part of the boto3 ``cloudwatch`` client this module uses."""

    def describe_alarms(self, **kwargs: object) -> Mapping[str, object]: ...
    def put_metric_alarm(self, **kwargs: object) -> Mapping[str, object]: ...


def dimension_values(value: str) -> tuple[tuple[str, str], ...]:
    """``InstanceId=i-0abc,...`` as (name, value) pairs (an argparse ``type``)."""
    pairs = tuple(item.partition("=") for item in value.split(","))
    if not all(sep and v.strip() and len(v) <= 1024 for _, sep, v in pairs):
        raise argparse.ArgumentTypeError(f"{value!r}: give Name=Value pairs joined by ','")
    names = dimension_names(",".join(name for name, _, _ in pairs))
    return tuple((name, v.strip()) for name, (_, _, v) in zip(names, pairs, strict=True))


@dataclass(frozen=True, slots=True)
class Target:
    """What the alarms watch (a namespace, one value per dimension) and whom they notify."""

    namespace: str
    values: tuple[tuple[str, str], ...]
    actions: tuple[str, ...] = ()

    def metric(self, name: str) -> Request:
        """The metric ``name`` of this target, as PutMetricAlarm and MetricStat spell it."""
        dimensions = [{"Name": key, "Value": value} for key, value in self.values]
        return {"Namespace": self.namespace, "MetricName": name, "Dimensions": dimensions}

    def alarm(self, kind: str, description: str, **settings: object) -> Request:
        """A PutMetricAlarm request named ``<namespace>-<kind>-<values>``."""
        where = ", ".join(f"{key}={value}" for key, value in self.values)
        return {
            "AlarmName": f"{self.namespace}-{kind}-{'-'.join(v for _, v in self.values)}",
            "AlarmDescription": f"{description} ({where}; emf-neuron alarms)",
            "ActionsEnabled": True,
            "AlarmActions": list(self.actions),
            "OKActions": list(self.actions),
            **settings,
        }


def alarm_requests(target: Target) -> list[Request]:
    """PutMetricAlarm requests: monitor down, uncorrected ECC errors, execution error rate."""
    return [_monitor_down(target), _ecc_uncorrected(target), _error_rate(target)]


def _monitor_down(target: Target) -> Request:
    return target.alarm(
        "MonitorDown",
        "neuron-monitor delivers no valid reports, or the sidecar is not publishing (no data "
        "counts as down); see emf-neuron insights monitor-restarts",
        **target.metric("MonitorUp"), Statistic="Minimum", Period=60, EvaluationPeriods=3,
        DatapointsToAlarm=3, Threshold=1.0, ComparisonOperator="LessThanThreshold",
        TreatMissingData="breaching",
    )  # fmt: skip


def _ecc_uncorrected(target: Target) -> Request:
    return target.alarm(
        "EccUncorrected",
        "Uncorrected ECC errors on a Neuron device: drain and replace the instance",
        **target.metric("HardwareEccErrorsUncorrected"), Statistic="Sum", Period=60,
        EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
    )  # fmt: skip


def _error_rate(target: Target) -> Request:
    def summed(metric_id: str, name: str) -> Request:
        stat = {"Metric": target.metric(name), "Period": ERROR_RATE_PERIOD_SECONDS, "Stat": "Sum"}
        return {"Id": metric_id, "MetricStat": stat, "ReturnData": False}

    # FILL: with --sparse-counters a zero counter is not published at all
    rate = "100 * FILL(errors, 0) / (FILL(errors, 0) + FILL(completed, 0))"
    return target.alarm(
        "ErrorRate",
        f"Over {ERROR_RATE_PERCENT:g}% of executions failed in 5 minutes "
        "(ExecutionErrors / (ExecutionsCompleted + ExecutionErrors))",
        Metrics=[
            summed("errors", "ExecutionErrors"),
            summed("completed", "ExecutionsCompleted"),
            {"Id": "rate", "Expression": rate, "Label": "ExecutionErrorRatePercent",
             "ReturnData": True},
        ],
        EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=ERROR_RATE_PERCENT,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )  # fmt: skip


def plan(requests: Sequence[Request], existing: Mapping[str, Mapping[str, object]]) -> list[Change]:
    """Compare each request with the alarm of the same name, if there is one."""
    changes = []
    for request in requests:
        name = str(request["AlarmName"])
        current = existing.get(name)
        if current is None:
            changes.append(Change(name, "create"))
            continue
        fields = tuple(key for key, want in request.items() if not same(want, current.get(key)))
        changes.append(Change(name, "update" if fields else "unchanged", fields))
    return changes


def same(want: object, have: object) -> bool:
    """Whether an existing alarm's field says what the request says (extra fields are ignored)."""
    if have is None:
        return want in (None, False, [], "")
    if isinstance(want, bool) or isinstance(have, bool):
        return type(want) is type(have) and want == have
    if isinstance(want, int | float) and isinstance(have, int | float):
        return math.isclose(want, have)
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        return all(same(value, have.get(key)) for key, value in want.items())
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        return all(same(w, h) for w, h in zip(_ordered(want), _ordered(have), strict=True))
    return want == have


def _ordered(items: list[object]) -> list[object]:
    """Dimensions compare as a set: sort lists of ``{"Name": ...}`` by name."""
    if all(isinstance(item, Mapping) and isinstance(item.get("Name"), str) for item in items):
        return sorted(
            items, key=lambda item: str(item.get("Name")) if isinstance(item, Mapping) else ""
        )
    return items


def add_alarms_parser(subparsers: argparse._SubParsersAction[aws_client.ParserT]) -> None:
    """The ``alarms`` subcommand and its flags."""
    parser = subparsers.add_parser(
        "alarms",
        help="plan (or --apply) the recommended CloudWatch alarms for one task or service",
        description="Print the PutMetricAlarm requests on stdout and, on stderr, what applying "
        "them would do compared with the existing alarms (DescribeAlarms); --apply does it.",
    )
    parser.add_argument("--namespace", default=aws_client.DEFAULT_NAMESPACE, metavar="NS")
    parser.add_argument(
        "--dimension-values",
        type=dimension_values,
        required=True,
        metavar="N=V,...",
        help="the sidecar's dimensions and their values, e.g. InstanceId=i-0abc",
    )
    parser.add_argument(
        "--alarm-action", action="append", default=[], metavar="ARN", help="notify ARN (repeatable)"
    )
    parser.add_argument("--apply", action="store_true", help="put the alarms (default: dry run)")
    aws_client.add_aws_arguments(parser)


def run_alarms(args: argparse.Namespace) -> int:
    """Run ``emf-neuron alarms``; returns the exit code (see ``aws_client``)."""
    return aws_client.guarded("alarms", lambda: _alarms(args))


def _alarms(args: argparse.Namespace) -> int:
    target = Target(args.namespace, args.dimension_values, tuple(args.alarm_action))
    requests = alarm_requests(target)
    sys.stdout.write(json.dumps(requests, indent=2) + "\n")
    region = aws_client.resolve_region(args.region)
    cloudwatch: AlarmsApi = aws_client.client("cloudwatch", region, args.endpoint_url)
    names = [str(request["AlarmName"]) for request in requests]
    found = cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])
    existing = {
        aws_client.text(a, "AlarmName"): a for a in aws_client.records(found, "MetricAlarms")
    }
    changes = plan(requests, existing)
    for change, request in zip(changes, requests, strict=True):
        if args.apply and change.action != "unchanged":
            cloudwatch.put_metric_alarm(**request)
        aws_client.say(_describe(change, applied=args.apply))
    aws_client.say(_summary(changes, region, applied=args.apply))
    return aws_client.EXIT_OK


def _summary(changes: Sequence[Change], region: str, *, applied: bool) -> str:
    count = {a: sum(c.action == a for c in changes) for a in ("create", "update", "unchanged")}
    if applied:
        return (
            f"alarms in {region}: {count['create']} created, {count['update']} updated, "
            f"{count['unchanged']} unchanged"
        )
    return (
        f"alarms in {region}: would create {count['create']}, update {count['update']}, "
        f"leave {count['unchanged']} unchanged (dry run; --apply makes the changes)"
    )


def _describe(change: Change, *, applied: bool) -> str:
    if change.action == "unchanged":
        return f"unchanged alarm {change.name}"
    verb = (
        {"create": "created", "update": "updated"}[change.action]
        if applied
        else "would " + change.action
    )
    detail = f" ({', '.join(change.fields)})" if change.fields else ""
    return f"{verb} alarm {change.name}{detail}"
