"""``emf-neuron plan``: what a configuration would publish and cost, before it runs anywhere.

The plan runs the real pipeline over one publish interval of a sample report and counts what it
renders, so its numbers are by construction what the sidecar emits for that report. Prices are
named constants (CloudWatch list prices, us-east-1) that flags can override. No I/O here except
loading the bundled sample.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emf_neuron.interval import Health
from emf_neuron.pipeline import Pipeline
from emf_neuron.sample_reports import BUSY_SCENARIO, build_busy_report, compact, load_template

# Custom metrics: $ per metric-month by tier (first 10k, next 240k, next 750k, above).
METRIC_TIERS_USD: tuple[tuple[float, float], ...] = (
    (10_000, 0.30),
    (240_000, 0.10),
    (750_000, 0.05),
    (float("inf"), 0.02),
)
PRICE_PER_GB_INGESTED_USD = 0.50
DAYS_PER_MONTH = 30.4
PER_TASK_DIMENSIONS = frozenset({"TaskId", "TaskArn", "InstanceId", "ContainerName"})
INSTANCE_TYPES: dict[str, str] = {
    "idle": "idle",
    "inf1.xlarge": "inf1.xlarge",
    "inf2.xlarge": "inf2.xlarge",
    "trn1.2xlarge": "trn1.2xlarge",
    "trn1.32xlarge": "trn1n.32xlarge",  # same 16 x 2 core layout as trn1n
    "trn1n.32xlarge": "trn1n.32xlarge",
    BUSY_SCENARIO: BUSY_SCENARIO,
}


@dataclass(frozen=True, slots=True, order=True)
class MetricKey:
    """One custom metric: a name under one dimension set with its values."""

    name: str
    dimensions: tuple[tuple[str, str], ...]

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """The dimension set, without values."""
        return tuple(name for name, _ in self.dimensions)


@dataclass(frozen=True, slots=True)
class Plan:
    """The metrics one task publishes, and what N tasks cost per month."""

    metrics: tuple[MetricKey, ...]
    tasks: int
    documents_per_interval: int
    bytes_per_interval: int
    publish_interval_seconds: float

    @property
    def per_task(self) -> bool:
        """True if a dimension differs per task, so every task adds its own metrics."""
        return any(n in PER_TASK_DIMENSIONS for key in self.metrics for n in key.dimension_names)

    @property
    def custom_metrics(self) -> int:
        """Distinct custom metrics for all tasks."""
        return len(self.metrics) * (self.tasks if self.per_task else 1)

    @property
    def bytes_per_day(self) -> float:
        """EMF log bytes per day for all tasks."""
        return self.bytes_per_interval * 86400 / self.publish_interval_seconds * self.tasks

    def monthly_cost_usd(self, price_per_gb: float = PRICE_PER_GB_INGESTED_USD) -> dict[str, float]:
        """Metric and log-ingestion cost per month."""
        metrics = metric_cost_usd(self.custom_metrics)
        ingestion = self.bytes_per_day * DAYS_PER_MONTH / 1e9 * price_per_gb
        return {"metrics": metrics, "ingestion": ingestion, "total": metrics + ingestion}


def metric_cost_usd(count: int, tiers: Sequence[tuple[float, float]] = METRIC_TIERS_USD) -> float:
    """Monthly price of ``count`` custom metrics with tiered pricing."""
    remaining, total = float(count), 0.0
    for size, price in tiers:
        used = min(remaining, size)
        total += used * price
        remaining -= used
    return total


def sample_report(instance_type: str) -> bytes:
    """The bundled report for ``instance_type``, as one line.

    Raises:
        KeyError: no bundled sample for that instance type.
    """
    scenario = INSTANCE_TYPES[instance_type]
    report = build_busy_report() if scenario == BUSY_SCENARIO else load_template(scenario)
    return compact(report)


def emitted_metrics(lines: Iterable[bytes]) -> set[MetricKey]:
    """Every (metric, dimension set with values) that the EMF ``lines`` declare."""
    keys: set[MetricKey] = set()
    for line in lines:
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dims in directive["Dimensions"]:
                values = tuple((name, str(doc[name])) for name in dims)
                keys.update(MetricKey(m["Name"], values) for m in directive["Metrics"])
    return keys


def make_plan(
    pipeline: Pipeline, report: bytes, reports_per_interval: int, interval_s: float, tasks: int
) -> Plan:
    """Feed one interval of ``report`` through ``pipeline`` and measure what comes out."""
    for _ in range(max(1, reports_per_interval)):
        pipeline.feed(report.rstrip(b"\n") + b"\n")
    health = Health(up=True, restarts=0, report_age_seconds=0.0, report_errors=0)
    lines = pipeline.render(pipeline.documents(health), 1_764_000_000_000)
    return Plan(
        metrics=tuple(sorted(emitted_metrics(lines))),
        tasks=tasks,
        documents_per_interval=len(lines),
        bytes_per_interval=sum(len(line) + 1 for line in lines),
        publish_interval_seconds=interval_s,
    )


def plan_rows(plan: Plan) -> list[tuple[str, str, int]]:
    """(metric, dimension set, number of distinct values) rows, in catalogue-independent order."""
    counts: dict[tuple[str, str], int] = {}
    for key in plan.metrics:
        label = ",".join(key.dimension_names) or "(none)"
        counts[(key.name, label)] = counts.get((key.name, label), 0) + 1
    return [(name, dims, count) for (name, dims), count in sorted(counts.items())]


def format_table(plan: Plan, title: str, price_per_gb: float) -> str:
    """The human-readable plan."""
    rows = plan_rows(plan)
    width = max((len(name) for name, _, _ in rows), default=6)
    lines = [title, "", f"{'metric':<{width}}  count  dimensions"]
    lines += [f"{name:<{width}}  {count:>5}  {dims}" for name, dims, count in rows]
    cost = plan.monthly_cost_usd(price_per_gb)
    scope = "for each task" if plan.per_task else "shared by all tasks of the service"
    lines += [
        "",
        f"custom metrics per task:    {len(plan.metrics)} ({scope})",
        f"custom metrics, {plan.tasks} task(s): {plan.custom_metrics}",
        f"documents per interval:     {plan.documents_per_interval} "
        f"({plan.bytes_per_interval:,} bytes every {plan.publish_interval_seconds:g} s)",
        f"EMF log bytes per day:      {plan.bytes_per_day / 1e6:,.2f} MB for {plan.tasks} task(s)",
        f"monthly cost (USD):         metrics {cost['metrics']:,.2f} + log ingestion "
        f"{cost['ingestion']:,.2f} = {cost['total']:,.2f}",
    ]
    return "\n".join(lines) + "\n"


def to_json(plan: Plan, price_per_gb: float) -> str:
    """The plan as one JSON document, with every metric and its dimension values."""
    body = {
        "metrics": [{"name": key.name, "dimensions": dict(key.dimensions)} for key in plan.metrics],
        "custom_metrics_per_task": len(plan.metrics),
        "per_task": plan.per_task,
        "tasks": plan.tasks,
        "custom_metrics": plan.custom_metrics,
        "documents_per_interval": plan.documents_per_interval,
        "bytes_per_interval": plan.bytes_per_interval,
        "publish_interval_seconds": plan.publish_interval_seconds,
        "bytes_per_day": round(plan.bytes_per_day),
        "monthly_cost_usd": {
            k: round(v, 4) for k, v in plan.monthly_cost_usd(price_per_gb).items()
        },
    }
    return json.dumps(body, indent=2) + "\n"
