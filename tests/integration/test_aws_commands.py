"""insights, dashboard and alarms as real processes against moto's server mode.

moto runs as its own process, a real HTTP endpoint on 127.0.0.1 (a free port); the commands get
``--endpoint-url`` and fake credentials through the environment. Limitation: moto's Logs
Insights only understands ``fields``/``sort``/``limit`` and returns record pointers for
everything else, so a packaged (``stats``) query yields no rows there; the tests check that it
completes and prints a well-formed table or JSON array. Until the commands are wired into
``emf_neuron.cli``, a tiny runner calls their ``add_*_parser``/``run_*`` functions.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from support import EXPECTED, REPO, wait_until

pytest.importorskip("boto3", reason="the AWS commands need the emf-neuron[aws] extra")
pytest.importorskip("moto.server", reason="these tests need moto[server]")
pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

REGION = "us-east-1"
# Only for the test without site-packages, where the full CLI cannot import (its EMF library is
# in site-packages too): the three commands' own parsers and runners, as the CLI wires them.
RUNNER = """\
import argparse, sys
from emf_neuron import alarms, dashboard, insights
modules = {"insights": insights, "dashboard": dashboard, "alarms": alarms}
parser = argparse.ArgumentParser(prog="emf-neuron")
commands = parser.add_subparsers(dest="command", required=True)
for name, module in modules.items():
    getattr(module, f"add_{name}_parser")(commands)
args = parser.parse_args()
sys.exit(getattr(modules[args.command], f"run_{args.command}")(args))
"""
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask 169.254.169.254 for credentials
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
NEEDS_BOTO3 = "emf-neuron: this command needs boto3: pip install 'emf-neuron[aws]'\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own server
            return int(response.status) == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto server process on 127.0.0.1 for this module."""
    url = f"http://127.0.0.1:{_free_port()}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", url.rsplit(":", 1)[1]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _answers(f"{url}/moto-api/"), 30.0, "the moto server")
        yield url
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def aws(endpoint: str) -> str:
    """The moto server, its state reset for this test."""
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(reset, timeout=5):  # noqa: S310 - our own server on 127.0.0.1
        pass
    return endpoint


def boto(service: str, endpoint: str) -> Any:
    import boto3  # noqa: PLC0415 - skipped above when missing

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
    )


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m emf_neuron`` as a process, with fake AWS credentials (``env`` overrides)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **FAKE_AWS, **(env or {})}
    full_env = {key: value for key, value in full_env.items() if value is not None}
    return subprocess.run(
        [sys.executable, "-m", "emf_neuron", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=45,
        check=False,
    )


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert all(line.startswith("emf-neuron: ") for line in result.stderr.splitlines())


def put_golden_events(endpoint: str, group: str) -> int:
    """Every golden EMF document as a log event of ``group`` (one stream, as awslogs writes)."""
    logs = boto("logs", endpoint)
    logs.create_log_group(logGroupName=group)
    stream = "emf-neuron/emf-neuron/158d1c8083dd49d6b527399fd6414f5c"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    lines = [
        line
        for path in sorted(EXPECTED.glob("*.emf.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    now = int(time.time() * 1000) - 60_000
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return len(events)


# -- insights -------------------------------------------------------------------------------------


def test_insights_list_needs_no_aws() -> None:
    result = cli("insights", "--list", env={"AWS_REGION": "", "AWS_ACCESS_KEY_ID": ""})
    assert result.returncode == 0, result.stderr
    header, rule, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["QUERY", "VERSION", "DESCRIPTION"]
    assert set(rule) <= {"-", " "}
    names = [row.split()[0] for row in rows]
    assert "busiest-tasks" in names
    assert "monitor-restarts" in names
    assert len(names) == 7


@pytest.mark.parametrize("query", ["busiest-tasks", "errors-by-runtime-tag", "latency-p99"])
def test_insights_query_completes_against_moto(aws: str, query: str) -> None:
    put_golden_events(aws, "/ecs/bert-api")
    table = cli("insights", query, "--log-group", "/ecs/bert-api", "--endpoint-url", aws)
    assert table.returncode == 0, table.stderr
    assert_clean(table)
    assert f"emf-neuron: {query}: running" in table.stderr
    assert "Complete" in table.stderr
    # moto returns only record pointers for a stats query: no rows (see the module docstring)
    assert table.stdout == "(no results)\n"
    as_json = cli(
        "insights", query, "--log-group", "/ecs/bert-api", "--endpoint-url", aws, "--json"
    )
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert isinstance(rows, list)
    assert all(isinstance(row, dict) for row in rows)


def test_insights_unknown_log_group_is_one_line(aws: str) -> None:
    result = cli("insights", "busiest-tasks", "--log-group", "nope", "--endpoint-url", aws)
    assert result.returncode == 1
    assert_clean(result)
    assert "ResourceNotFoundException" in result.stderr.splitlines()[-1]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["nope", "--log-group", "g"], {}, 64, "no query 'nope'"),
        (["busiest-tasks"], {}, 64, "--log-group is required"),
        ([], {}, 64, "name a QUERY"),
        (["busiest-tasks", "--log-group", "g"], {"AWS_REGION": ""}, 78, "no AWS region"),
    ],
)
def test_insights_usage_errors(
    args: list[str], env: dict[str, str], code: int, message: str
) -> None:
    result = cli("insights", *args, env={"AWS_DEFAULT_REGION": "", **env})
    assert (result.returncode, result.stdout) == (code, "")
    assert_clean(result)
    assert message in result.stderr


def test_unreachable_endpoint_and_missing_credentials(aws: str) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    result = cli(
        "insights",
        "busiest-tasks",
        "--log-group",
        "g",
        "--endpoint-url",
        dead,
        env={"AWS_MAX_ATTEMPTS": "1"},
    )
    assert result.returncode == 75
    assert_clean(result)
    no_keys = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}
    result = cli(
        "insights", "busiest-tasks", "--log-group", "g", "--endpoint-url", aws, env=no_keys
    )
    assert result.returncode == 77
    assert_clean(result)
    assert "credentials" in result.stderr


# -- dashboard ------------------------------------------------------------------------------------


def test_dashboard_dry_run_prints_the_body_and_what_it_would_do() -> None:
    result = cli("dashboard", "--name", "neuron")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    widgets = len(body["widgets"])
    assert (
        result.stderr
        == f"emf-neuron: would put dashboard neuron ({widgets} widgets); --apply puts it\n"
    )


def test_dashboard_apply_puts_the_same_body(aws: str) -> None:
    result = cli(
        "dashboard", "--apply", "--dimensions", "ClusterName,ServiceName", "--endpoint-url", aws
    )
    assert result.returncode == 0, result.stderr
    assert_clean(result)
    assert "put dashboard NeuronMonitor (" in result.stderr
    stored = boto("cloudwatch", aws).get_dashboard(DashboardName="NeuronMonitor")
    assert json.loads(stored["DashboardBody"]) == json.loads(result.stdout)


# -- alarms ---------------------------------------------------------------------------------------


def test_alarms_plan_apply_and_unchanged(aws: str) -> None:
    args = ["alarms", "--dimension-values", "InstanceId=i-0abc", "--endpoint-url", aws]
    dry = cli(*args)
    assert dry.returncode == 0, dry.stderr
    assert_clean(dry)
    assert dry.stderr.count("would create alarm NeuronMonitor-") == 3
    assert not boto("cloudwatch", aws).describe_alarms()["MetricAlarms"]

    applied = cli(*args, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert applied.stderr.count("emf-neuron: created alarm ") == 3
    found = boto("cloudwatch", aws).describe_alarms()["MetricAlarms"]
    assert sorted(alarm["AlarmName"] for alarm in found) == [
        "NeuronMonitor-EccUncorrected-i-0abc",
        "NeuronMonitor-ErrorRate-i-0abc",
        "NeuronMonitor-MonitorDown-i-0abc",
    ]
    assert json.loads(applied.stdout) == json.loads(dry.stdout)

    again = cli(*args, "--apply")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("emf-neuron: unchanged alarm ") == 3
    assert "0 created, 0 updated, 3 unchanged" in again.stderr

    topic = "arn:aws:sns:us-east-1:123456789012:neuron-oncall"
    changed = cli(*args, "--alarm-action", topic)
    assert changed.stderr.count("would update alarm ") == 3
    assert "(AlarmActions, OKActions)" in changed.stderr


# -- boto3 stays optional -------------------------------------------------------------------------


def test_sidecar_path_imports_no_boto3() -> None:
    code = (
        "import sys, emf_neuron.cli, emf_neuron.aws_client, emf_neuron.insights, "
        "emf_neuron.dashboard, emf_neuron.alarms\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["insights", "busiest-tasks", "--log-group", "g"],
        ["dashboard", "--apply"],
        ["alarms", "--dimension-values", "InstanceId=i-0abc"],
    ],
    ids=["insights", "dashboard", "alarms"],
)
def test_without_boto3_one_line_and_exit_69(args: list[str]) -> None:
    # -S: no site-packages (so no boto3, and no aws_embedded_metrics either, which these commands
    # must not need); -E: no PYTHON* variables. Only the standard library and the repository.
    isolated = [sys.executable, "-S", "-E"]
    probe = subprocess.run([*isolated, "-c", "import boto3"], capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("boto3 is importable without site-packages here")
    prelude = f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
    env = {**os.environ, **FAKE_AWS}
    command = [*isolated, "-c", prelude + RUNNER, *args]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, check=False)
    assert (result.returncode, result.stderr) == (69, NEEDS_BOTO3)
