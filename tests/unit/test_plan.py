"""``emf-neuron plan``: its counts equal what the real sidecar emits, and its prices add up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import REPO, check_emf

from emf_neuron.catalogue import PROFILES
from emf_neuron.cli import main
from emf_neuron.plan import emitted_metrics, metric_cost_usd, sample_report


def _plan_json(*args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "emf_neuron", "plan", "--json", *args],
        capture_output=True,
        check=True,
        cwd=REPO,
        timeout=60,
    )
    body = json.loads(result.stdout)
    assert isinstance(body, dict)
    return body


def _emitted_by_sidecar(report: bytes, *args: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Run the real CLI on 12 copies of ``report`` on stdin; the metrics its output declares."""
    result = subprocess.run(
        [sys.executable, "-m", "emf_neuron", "run", "--input", "-", *args],
        input=(report.rstrip(b"\n") + b"\n") * 12,
        capture_output=True,
        check=True,
        cwd=REPO,
        timeout=60,
    )
    lines = result.stdout.splitlines()
    for line in lines:
        check_emf(line)
    return {(key.name, key.dimensions) for key in emitted_metrics(lines)}


CONFIGS = [
    ("inf1.xlarge", ()),
    ("inf1.xlarge", ("--profile", "minimal")),
    ("trn1.2xlarge", ("--profile", "full")),
    ("inf2.xlarge", ("--profile", "full", "--sparse-counters", "true")),
    ("inf2.xlarge", ("--runtime-tag-pattern", "bert-.*", "--exclude-metrics", "ExecutionErrors")),
    ("trn1n.32xlarge", ("--dimensions", "InstanceId;InstanceType")),
    ("idle", ("--include-metrics", "HostMemoryUsed")),
]


@pytest.mark.parametrize(
    ("instance_type", "flags"), CONFIGS, ids=[f"{t}{''.join(f)}" for t, f in CONFIGS]
)
def test_plan_equals_what_the_sidecar_emits(instance_type: str, flags: tuple[str, ...]) -> None:
    plan = _plan_json("--instance-type", instance_type, "--off-ecs", *flags)
    planned = {
        (str(m["name"]), tuple(m["dimensions"].items()))
        for m in plan["metrics"]  # type: ignore[attr-defined]
    }
    emitted = _emitted_by_sidecar(sample_report(instance_type), *flags)
    assert {(name, tuple(sorted(d))) for name, d in planned} == {
        (name, tuple(sorted(d))) for name, d in emitted
    }
    assert plan["custom_metrics_per_task"] == len(emitted)


def test_default_on_inf1_is_below_the_27_of_the_supervisord_write_up() -> None:
    standard = _plan_json("--instance-type", "inf1.xlarge")
    minimal = _plan_json("--instance-type", "inf1.xlarge", "--profile", "minimal")
    assert standard["custom_metrics_per_task"] == 22
    assert minimal["custom_metrics_per_task"] == 9
    assert standard["per_task"] is False  # ClusterName + ServiceName: tasks share the metrics


def test_per_task_dimensions_multiply_by_tasks() -> None:
    plan = _plan_json("--instance-type", "inf1.xlarge", "--off-ecs", "--tasks", "10")
    assert plan["per_task"] is True
    assert plan["custom_metrics"] == 10 * 22


def test_publish_interval_cuts_log_bytes() -> None:
    every_period = _plan_json("--publish-interval-seconds", "5")
    per_minute = _plan_json()
    ratio = float(every_period["bytes_per_day"]) / float(per_minute["bytes_per_day"])  # type: ignore[arg-type]
    assert ratio > 5


@pytest.mark.parametrize(
    ("count", "usd"),
    [(0, 0.0), (1, 0.30), (10_000, 3000.0), (10_001, 3000.10), (250_000, 27_000.0)],
    ids=["none", "one", "first-tier", "second-tier-starts", "second-tier-full"],
)
def test_metric_price_tiers(count: int, usd: float) -> None:
    assert metric_cost_usd(count) == pytest.approx(usd)


def test_full_profile_is_a_superset() -> None:
    assert PROFILES["minimal"] < PROFILES["standard"] < PROFILES["full"]


def test_unknown_instance_type_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--instance-type", "p5.48xlarge"], environ={}) == 64
    assert "no bundled sample" in capsys.readouterr().err


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--instance-type", "inf1.xlarge"], environ={}) == 0
    out = capsys.readouterr().out
    assert "NeuronCoreUtilization" in out
    assert "custom metrics per task:    22" in out
