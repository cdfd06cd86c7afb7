"""On ECS, with no configuration at all, metrics are dimensioned by cluster and service.

A real metadata endpoint (HTTP on 127.0.0.1, recorded-shape v4 responses) and a real sidecar
process against the simulator.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from support import REPO, SidecarProcess, simulator_command, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
ECS = REPO / "tests" / "data" / "ecs"


@pytest.fixture
def metadata_url() -> Iterator[str]:
    task = (ECS / "task-service.json").read_bytes()
    container = (ECS / "container.json").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(task if self.path.endswith("/task") else container)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/task-1"
    finally:
        server.shutdown()
        server.server_close()


def test_ecs_task_gets_cluster_and_service_dimensions(metadata_url: str) -> None:
    sidecar = SidecarProcess(
        [
            "run",
            "--monitor-command",
            simulator_command("--period-seconds", "0.1", "--scenario", "inf1.xlarge"),
            "--period-seconds",
            "0.1",
            "--publish-interval-seconds",
            "0.5",
        ],
        env={"ECS_CONTAINER_METADATA_URI_V4": metadata_url},
    )
    try:
        wait_until(lambda: len(sidecar.docs()) >= 5, 20, "the first documents")
    finally:
        assert sidecar.stop() == 0
    docs = sidecar.docs()
    core = next(d for d in docs if "NeuronCore" in d)
    task = next(d for d in docs if "MonitorUp" in d)
    assert core["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["ClusterName", "ServiceName", "NeuronCore"],
        ["ClusterName", "ServiceName"],
    ]
    assert (task["ClusterName"], task["ServiceName"]) == ("prod-inference", "bert-api")
    assert task["TaskId"] == "158d1c8083dd49d6b527399fd6414f5c"
    assert task["ContainerName"] == "emf-neuron"
    assert task["InstanceId"].startswith("i-")  # from the report, as a property
    assert any("on ECS: dimensions ClusterName + ServiceName" in m for m in sidecar.log_messages())
