"""The sidecar path stays small: no aiohttp (from the EMF library's __init__), no boto3."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import REPO

RENDER = (
    "from emf_neuron.emf import Document, Metric, render\n"
    "doc = Document((('A',),), {'A': 'b'}, (Metric('M', 'Count', (1.0, 2.0)),))\n"
    "(line,) = render(doc, 'NS', 1).lines\n"
    "assert b'\"M\": [1, 2]' in line, line\n"
)


@pytest.mark.parametrize(
    "prelude",
    ["", "import aws_embedded_metrics\n"],
    ids=["fresh-process", "library-already-imported"],
)
def test_sidecar_imports_neither_aiohttp_nor_boto3(prelude: str) -> None:
    code = (
        prelude + "import sys, emf_neuron.cli, emf_neuron.commands\n" + RENDER + "print("
        "'aiohttp' in sys.modules, 'boto3' in sys.modules, 'botocore' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    aiohttp, boto3, botocore = result.stdout.split()
    assert (boto3, botocore) == ("False", "False")
    assert aiohttp == ("True" if prelude else "False")
