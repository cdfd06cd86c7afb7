"""README tables are generated from the code (the catalogue and the Settings dataclass).

A stale README fails here; regenerate with ``EMF_NEURON_UPDATE_README=1`` and review the diff.
"""

from __future__ import annotations

import os
import re
from dataclasses import Field, fields

import pytest
from support import REPO

from emf_neuron.config import Settings, env_name, flag_name
from emf_neuron.mapping import CATALOGUE

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


@pytest.mark.parametrize(
    ("marker", "render"),
    [("metrics-table", metrics_table), ("settings-table", settings_table)],
    ids=["metrics", "settings"],
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
