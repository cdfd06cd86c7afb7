"""Golden files: every recorded sample through parse -> map -> interval -> EMF.

Each fixture in tests/data/reports is one publish interval (a .jsonl file's reports are samples
of the same interval). The documents are compared as parsed JSON without ``Timestamp``. After a
deliberate change, regenerate with ``EMF_NEURON_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support import EXPECTED, REPORTS, check_emf

from emf_neuron.catalogue import PROFILES
from emf_neuron.interval import Health, Layout
from emf_neuron.pipeline import Pipeline

FIXTURES = sorted(p for p in REPORTS.iterdir() if p.suffix in {".json", ".jsonl"})
TIMESTAMP_MS = 1_764_000_000_000


def _golden(path: Path, profile: str) -> Path:
    suffix = ".emf.jsonl" if profile == "standard" else f".{profile}.emf.jsonl"
    return EXPECTED / (path.stem + suffix)


def _documents(path: Path, profile: str) -> list[dict[str, Any]]:
    pipeline = Pipeline("NeuronMonitor", PROFILES[profile], Layout(), 4 * 1024 * 1024)
    pipeline.feed(path.read_bytes())
    pipeline.end_of_stream()
    health = Health(
        up=True, restarts=0, report_age_seconds=0.0, report_errors=pipeline.take_report_errors()
    )
    lines = pipeline.render(pipeline.documents(health), TIMESTAMP_MS)
    docs = [check_emf(line) for line in lines]
    for doc in docs:
        del doc["_aws"]["Timestamp"]
    return docs


CASES = [(path, profile) for path in FIXTURES for profile in ("standard", "full")]


@pytest.mark.parametrize(("path", "profile"), CASES, ids=[f"{p.name}-{f}" for p, f in CASES])
def test_sample_matches_golden(path: Path, profile: str) -> None:
    expected_path = _golden(path, profile)
    docs = _documents(path, profile)
    if os.environ.get("EMF_NEURON_UPDATE_GOLDEN") == "1":
        text = "".join(json.dumps(doc, sort_keys=True) + "\n" for doc in docs)
        expected_path.write_text(text, encoding="utf-8")
    expected = [json.loads(line) for line in expected_path.read_text("utf-8").splitlines()]
    assert docs == expected


def test_every_sample_has_a_golden_file() -> None:
    goldens = {p.name for p in EXPECTED.glob("*.emf.jsonl")}
    assert goldens == {_golden(path, profile).name for path, profile in CASES}
