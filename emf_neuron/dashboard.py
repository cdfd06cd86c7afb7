"""The CloudWatch dashboard of emf-neuron's metrics, and ``emf-neuron dashboard``.

Owns the widgets: one graph per concern (utilization, memory, executions, latency, ECC, monitor
health), each line a SEARCH expression keyed on the namespace, the dimension names and the metric
name, so one dashboard shows every task of a dimension set. A metric of the chosen profile that no
curated panel shows gets a generic panel, so every published metric is on the dashboard. Building
the body is pure; only ``--apply`` talks to AWS (PutDashboard). It must not import boto3 (see
``aws_client``) nor hard-code a dimension set beyond the default of ``--dimensions``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from emf_neuron import aws_client
from emf_neuron.catalogue import PROFILES, SPECS, MetricSpec

DEFAULT_DIMENSIONS = ("InstanceId",)
PERIOD_SECONDS = 60
SCOPE_DIMENSIONS = {"core": "NeuronCore", "device": "NeuronDevice", "runtime": "RuntimeTag"}
_STATS = {"counter": "Sum", "gauge": "Average", "health": "Maximum"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,254}")
_PLAIN = re.compile(r"[A-Za-z0-9_]+")
_DASHBOARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_WIDTH, _HEIGHT, _TEXT_HEIGHT = 12, 6, 2
Json = dict[str, object]


@dataclass(frozen=True, slots=True)
class Panel:
    """One graph: metrics and statistics, task-wide or with one line per ``per`` (NeuronCore)."""

    title: str
    metrics: tuple[str, ...]
    stats: tuple[str, ...]
    per: str | None = None
    y_max: float | None = None


def _panel(
    title: str, metrics: str, stats: str, per: str | None = None, y_max: float | None = None
) -> Panel:
    return Panel(title, tuple(metrics.split()), tuple(stats.split()), per, y_max)


CORE = SCOPE_DIMENSIONS["core"]
PANELS: tuple[Panel, ...] = (
    _panel("NeuronCore utilization per core (%)", "NeuronCoreUtilization", "Average", CORE, 100),
    _panel("NeuronCore utilization, task-wide (%)", "NeuronCoreUtilization", "Average Maximum",
           y_max=100),
    _panel("Device memory used per NeuronCore (bytes)", "NeuronCoreMemoryUsed", "Maximum", CORE),
    _panel("Runtime memory used (bytes)",
           "NeuronRuntimeHostMemoryUsed NeuronRuntimeDeviceMemoryUsed", "Maximum"),
    _panel("Executions completed and failed", "ExecutionsCompleted ExecutionErrors", "Sum"),
    _panel("Execution latency p50 and p99 (s)", "ExecutionLatencyP50 ExecutionLatencyP99",
           "Maximum"),
    _panel("ECC errors, corrected and uncorrected",
           "HardwareEccErrorsCorrected HardwareEccErrorsUncorrected", "Sum"),
    _panel("Monitor up (1 = valid reports in time)", "MonitorUp", "Minimum", y_max=1),
    _panel("Monitor restarts and rejected report lines", "MonitorRestarts ReportErrors", "Sum"),
    _panel("Age of the last valid report (s)", "ReportAgeSeconds", "Maximum"),
)  # fmt: skip


class DashboardApi(Protocol):
    """The part of the boto3 ``cloudwatch`` client this module uses."""

    def put_dashboard(self, **kwargs: object) -> Mapping[str, object]: ...


def dimension_names(value: str) -> tuple[str, ...]:
    """``ClusterName,ServiceName`` as names (an argparse ``type``)."""
    names = tuple(name.strip() for name in value.split(","))
    if not all(_NAME.fullmatch(name) for name in names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{value!r}: give distinct names joined by ','")
    return names


def search(namespace: str, dimensions: Sequence[str], metric: str, stat: str, period: int) -> str:
    """A SEARCH over every metric ``metric`` with exactly ``dimensions`` in ``namespace``."""
    schema = ",".join(_term(term) for term in (namespace, *dimensions))
    return f"SEARCH('{{{schema}}} MetricName=\"{metric}\"', '{stat}', {period})"


def _term(name: str) -> str:
    return name if _PLAIN.fullmatch(name) else '"' + name.replace('"', '\\"') + '"'


def panels(metrics: Iterable[str]) -> list[Panel]:
    """The curated panels that show any of ``metrics``, then one per kind of the rest."""
    wanted = set(metrics)
    chosen = [
        replace(panel, metrics=tuple(name for name in panel.metrics if name in wanted))
        for panel in PANELS
        if wanted.intersection(panel.metrics)
    ]
    shown = {name for panel in chosen for name in panel.metrics}
    rest: dict[tuple[str, str, str | None], list[str]] = {}
    for spec in (SPECS[name] for name in sorted(wanted - shown)):
        rest.setdefault(_kind_of(spec), []).append(spec.name)
    for (unit, stat, per), names in sorted(rest.items(), key=str):
        where = f" per {per}" if per else ""
        chosen.append(Panel(f"Other metrics ({unit}{where}, {stat})", tuple(names), (stat,), per))
    return chosen


def _kind_of(spec: MetricSpec) -> tuple[str, str, str | None]:
    return (spec.unit, _STATS[spec.kind], SCOPE_DIMENSIONS.get(spec.scope))


def dashboard_body(
    namespace: str,
    dimensions: Sequence[str],
    region: str,
    metrics: Iterable[str],
    period: int = PERIOD_SECONDS,
) -> Json:
    """The dashboard body: a short note, then one widget per panel, two per row."""
    note = (
        f"**emf-neuron** metrics in `{namespace}` by `{', '.join(dimensions)}`: one line per "
        f"value (per-core graphs add `{CORE}`). Logs: `emf-neuron insights --list`."
    )
    widgets: list[Json] = [
        {"type": "text", "x": 0, "y": 0, "width": 2 * _WIDTH, "height": _TEXT_HEIGHT,
         "properties": {"markdown": note}},
    ]  # fmt: skip
    for index, panel in enumerate(panels(metrics)):
        position = {
            "x": (index % 2) * _WIDTH,
            "y": _TEXT_HEIGHT + (index // 2) * _HEIGHT,
            "width": _WIDTH,
            "height": _HEIGHT,
        }
        properties = _properties(panel, namespace, dimensions, region, period)
        widgets.append({"type": "metric", **position, "properties": properties})
    return {"widgets": widgets}


def _properties(
    panel: Panel, namespace: str, dimensions: Sequence[str], region: str, period: int
) -> Json:
    dims = (*dimensions, panel.per) if panel.per else tuple(dimensions)
    lines: list[list[Json]] = []
    for metric in panel.metrics:
        for stat in panel.stats:
            words = [metric] if len(panel.metrics) > 1 else []
            words += [stat] if len(panel.stats) > 1 else []
            words += [f"${{PROP('Dim.{name}')}}" for name in dims]
            expression = search(namespace, dims, metric, stat, period)
            lines.append(
                [{"expression": expression, "id": f"e{len(lines) + 1}", "label": " ".join(words)}]
            )
    left: Json = {"min": 0} if panel.y_max is None else {"min": 0, "max": panel.y_max}
    return {
        "title": panel.title,
        "view": "timeSeries",
        "stacked": False,
        "region": region,
        "period": period,
        "metrics": lines,
        "yAxis": {"left": left},
    }


def add_dashboard_parser(subparsers: argparse._SubParsersAction[aws_client.ParserT]) -> None:
    """The ``dashboard`` subcommand and its flags."""
    parser = subparsers.add_parser(
        "dashboard",
        help="print (or --apply) a CloudWatch dashboard of the metrics",
        description="Print the dashboard body JSON on stdout; --apply also puts it (PutDashboard).",
    )
    parser.add_argument("--namespace", default=aws_client.DEFAULT_NAMESPACE, metavar="NS")
    parser.add_argument("--name", metavar="N", help="dashboard name (default: the namespace)")
    parser.add_argument(
        "--dimensions",
        type=dimension_names,
        default=DEFAULT_DIMENSIONS,
        metavar="NAMES",
        help=f"the sidecar's base dimension set (default: {','.join(DEFAULT_DIMENSIONS)})",
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="standard")
    parser.add_argument("--apply", action="store_true", help="put the dashboard (default: dry run)")
    aws_client.add_aws_arguments(parser)


def run_dashboard(args: argparse.Namespace) -> int:
    """Run ``emf-neuron dashboard``; returns the exit code (see ``aws_client``)."""
    return aws_client.guarded("dashboard", lambda: _dashboard(args))


def _dashboard(args: argparse.Namespace) -> int:
    name = args.name or re.sub(r"[^A-Za-z0-9_-]", "-", args.namespace)
    if not _DASHBOARD_NAME.fullmatch(name):
        raise aws_client.CommandError(
            f"--name {name!r}: use A-Z a-z 0-9 - _", aws_client.EXIT_USAGE
        )
    region = aws_client.resolve_region(args.region)
    body = dashboard_body(args.namespace, args.dimensions, region, PROFILES[args.profile])
    count = len(body["widgets"]) if isinstance(body["widgets"], list) else 0
    sys.stdout.write(json.dumps(body, indent=2) + "\n")
    if not args.apply:
        aws_client.say(f"would put dashboard {name} ({count} widgets); --apply puts it")
        return aws_client.EXIT_OK
    cloudwatch: DashboardApi = aws_client.client("cloudwatch", region, args.endpoint_url)
    response = cloudwatch.put_dashboard(
        DashboardName=name, DashboardBody=json.dumps(body, separators=(",", ":"))
    )
    for problem in aws_client.records(response, "DashboardValidationMessages"):
        aws_client.say(f"dashboard {name}: {aws_client.text(problem, 'Message')}")
    aws_client.say(f"put dashboard {name} ({count} widgets) in {region}")
    return aws_client.EXIT_OK
