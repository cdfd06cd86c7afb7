"""ECS task metadata: parsing, and fetching from a real HTTP server on 127.0.0.1.

The server replays recorded-shape v4 responses (tests/data/ecs) and can be slow, fail with 500 or
serve garbage, so the client's timeouts, retry and fallback are exercised for real.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import REPO

from emf_neuron.commands import build_layout
from emf_neuron.config import load_settings
from emf_neuron.ecs import METADATA_ENV, TaskMetadata, fetch_task_metadata, parse_task
from emf_neuron.errors import ConfigError

ECS = REPO / "tests" / "data" / "ecs"


def _load(name: str) -> object:
    return json.loads((ECS / name).read_text(encoding="utf-8"))


@dataclass
class Behaviour:
    """What the fake metadata endpoint does; tests change it between requests."""

    task: bytes = b""
    container: bytes = b""
    status: int = 200
    delay_seconds: float = 0.0
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour(
        task=(ECS / "task-service.json").read_bytes(),
        container=(ECS / "container.json").read_bytes(),
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            behaviour.requests.append(self.path)
            time.sleep(behaviour.delay_seconds)
            body = behaviour.task if self.path.endswith("/task") else behaviour.container
            self.send_response(behaviour.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output quiet."""

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            """A client that timed out and hung up is the point of the slow case."""

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/abc", behaviour
    finally:
        server.shutdown()
        server.server_close()


def test_service_task_labels_and_default_dimensions() -> None:
    meta = parse_task(_load("task-service.json"), _load("container.json"))
    assert meta.labels == {
        "ClusterName": "prod-inference",
        "ServiceName": "bert-api",
        "TaskFamily": "bert-inference-with-emf-neuron",
        "TaskRevision": "7",
        "TaskId": "158d1c8083dd49d6b527399fd6414f5c",
        "TaskArn": "arn:aws:ecs:us-west-2:111122223333:task/prod-inference/"
        "158d1c8083dd49d6b527399fd6414f5c",
        "LaunchType": "EC2",
        "AvailabilityZone": "us-west-2d",
        "ContainerName": "emf-neuron",
    }
    assert meta.default_dimensions == ("ClusterName", "ServiceName")


def test_standalone_task_falls_back_to_task_family() -> None:
    meta = parse_task(_load("task-standalone.json"))
    assert meta.labels["ClusterName"] == "batch"
    assert "ServiceName" not in meta.labels
    assert meta.default_dimensions == ("ClusterName", "TaskFamily")


@pytest.mark.parametrize(
    "task",
    [[], "x", {"TaskARN": "a"}, {"Cluster": 5}, {"Cluster": "bad\nname"}],
    ids=["list", "string", "no-cluster", "cluster-not-string", "cluster-not-printable"],
)
def test_unusable_task_document_is_refused(task: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_task(task)


def test_hostile_label_values_are_dropped() -> None:
    task = {"Cluster": "c", "ServiceName": '{"_aws": 1}\n', "Family": "f" * 300}
    assert parse_task(task).labels == {"ClusterName": "c"}


def test_off_ecs_nothing_is_fetched() -> None:
    assert fetch_task_metadata({}) is None


def test_fetches_task_and_container(endpoint: tuple[str, Behaviour]) -> None:
    url, behaviour = endpoint
    meta = fetch_task_metadata({METADATA_ENV: url})
    assert meta is not None
    assert meta.labels["ServiceName"] == "bert-api"
    assert meta.labels["ContainerName"] == "emf-neuron"
    assert sorted(behaviour.requests) == ["/v4/abc", "/v4/abc/task"]


@pytest.mark.parametrize(
    ("status", "task", "delay"),
    [(500, b"{}", 0.0), (200, b"{not json", 0.0), (200, b"[1, 2]", 0.0), (200, b"{}", 0.6)],
    ids=["http-500", "malformed-json", "not-an-object", "slow"],
)
def test_bad_endpoint_falls_back_after_a_retry(
    endpoint: tuple[str, Behaviour], status: int, task: bytes, delay: float
) -> None:
    url, behaviour = endpoint
    behaviour.status, behaviour.task, behaviour.delay_seconds = status, task, delay
    started = time.monotonic()
    assert fetch_task_metadata({METADATA_ENV: url}, timeout_seconds=0.3, attempts=2) is None
    assert len([p for p in behaviour.requests if p.endswith("/task")]) == 2  # one retry
    assert time.monotonic() - started < 3.0


def test_unreachable_endpoint_falls_back() -> None:
    assert fetch_task_metadata({METADATA_ENV: "http://127.0.0.1:9/v4/x"}, 0.2, 1) is None


def test_non_http_url_is_refused(tmp_path: Path) -> None:
    assert fetch_task_metadata({METADATA_ENV: f"file://{tmp_path}"}, 0.2, 1) is None


def _layout_for(dimensions: str | None, meta: TaskMetadata | None) -> tuple[tuple[str, ...], ...]:
    settings = load_settings({"dimensions": dimensions}, {})
    return build_layout(settings, meta).dimension_sets


def test_layout_defaults_on_and_off_ecs() -> None:
    service = parse_task(_load("task-service.json"))
    standalone = parse_task(_load("task-standalone.json"))
    assert _layout_for(None, service) == (("ClusterName", "ServiceName"),)
    assert _layout_for(None, standalone) == (("ClusterName", "TaskFamily"),)
    assert _layout_for(None, None) == (("InstanceId",),)
    assert _layout_for("ClusterName;InstanceId,InstanceType", service) == (
        ("ClusterName",),
        ("InstanceId", "InstanceType"),
    )


def test_unknown_dimension_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PodName"):
        _layout_for("ClusterName,PodName", None)
