"""README tables are generated from the code (the catalogue and the Settings dataclass).

A stale README fails here; regenerate with ``EMF_NEURON_UPDATE_README=1`` and review the diff.
"""

from __future__ import annotations

import os
import re
from dataclasses import Field, fields

import pytest
from support import REPO

from emf_neuron.commands import PLANNED_TASK, build_layout, build_pipeline
from emf_neuron.config import Settings, env_name, flag_name, load_settings
from emf_neuron.mapping import CATALOGUE
from emf_neuron.plan import Plan, make_plan, sample_report

README = REPO / "README.md"


def metrics_table() -> str:
    rows = ["| metric | unit | per | profile | meaning |", "|---|---|---|---|---|"]
    per = {"core": "NeuronCore", "device": "NeuronDevice", "runtime": "RuntimeTag", "task": "task"}
    for spec in CATALOGUE:
        rows.append(
            f"| `{spec.name}` | {spec.unit} | {per[spec.scope]} | {spec.profile} "
            f"| {spec.description} |"
        )
    return "\n".join(rows)


def _default(field: Field[object]) -> str:
    if "Default:" in field.metadata["help"]:
        return "(derived)"
    if field.default is None:
        return "(none)"
    if isinstance(field.default, tuple):
        return "`" + ",".join(str(v) for v in field.default) + "`"
    return f"`{field.default}`"


def settings_table() -> str:
    rows = [
        "| setting | flag | environment | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for field in fields(Settings):
        rows.append(
            f"| `{field.name}` | `{flag_name(field.name)}` | `{env_name(field.name)}` "
            f"| {_default(field)} | {field.metadata['help']} |"
        )
    return "\n".join(rows)


PLAN_ROWS = [
    ("inf1.xlarge", "minimal"),
    ("inf1.xlarge", "standard"),
    ("inf1.xlarge", "full"),
    ("inf2.xlarge", "standard"),
    ("trn1.2xlarge", "standard"),
    ("trn1n.32xlarge", "standard"),
    ("trn1n.32xlarge-busy", "standard"),
]


def _plan(instance_type: str, profile: str, interval: str) -> Plan:
    settings = load_settings({"profile": profile, "publish_interval_seconds": interval}, {})
    layout = build_layout(settings, PLANNED_TASK)
    per_interval = round(settings.publish_interval_seconds / settings.period_seconds)
    report = sample_report(instance_type)
    return make_plan(build_pipeline(settings, layout), report, per_interval, float(interval), 1)


def plan_table() -> str:
    rows = [
        "| instance type | profile | custom metrics | EMF bytes/hour at 60 s | at 5 s | $/month |",
        "|---|---|---|---|---|---|",
    ]
    for instance_type, profile in PLAN_ROWS:
        minute = _plan(instance_type, profile, "60")
        hourly_kb = minute.bytes_per_day / 24 / 1e3
        fast_mb = _plan(instance_type, profile, "5").bytes_per_day / 24 / 1e6
        rows.append(
            f"| {instance_type} | {profile} | {len(minute.metrics)} | {hourly_kb:,.0f} KB "
            f"| {fast_mb:.2f} MB | {minute.monthly_cost_usd()['total']:.2f} |"
        )
    return "\n".join(rows)


@pytest.mark.parametrize(
    ("marker", "render"),
    [
        ("metrics-table", metrics_table),
        ("settings-table", settings_table),
        ("plan-table", plan_table),
    ],
    ids=["metrics", "settings", "plan"],
)
def test_readme_table_is_current(marker: str, render: object) -> None:
    assert callable(render)
    text = README.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- {marker}:start -->\n)(.*?)(\n<!-- {marker}:end -->)", re.S)
    match = pattern.search(text)
    assert match is not None, f"README has no {marker} markers"
    expected = str(render())
    if os.environ.get("EMF_NEURON_UPDATE_README") == "1":
        text = pattern.sub(lambda m: m.group(1) + expected + m.group(3), text)
        README.write_text(text, encoding="utf-8")
        match = pattern.search(text)
        assert match is not None
    assert match.group(2) == expected


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README.read_text(encoding="utf-8"), re.S)
    assert "emf-neuron demo" in blocks[0]
    assert "scripts/test" in blocks[1]
