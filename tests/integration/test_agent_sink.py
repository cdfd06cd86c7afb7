"""The real sidecar sends its documents to a CloudWatch agent endpoint (UDP, TCP) on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest
from support import SidecarProcess, check_emf, simulator_command, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
ARGS = [
    "--monitor-command",
    simulator_command("--period-seconds", "0.1", "--scenario", "inf1.xlarge"),
    "--period-seconds",
    "0.1",
    "--publish-interval-seconds",
    "0.3",
]


def test_documents_go_to_the_udp_agent_and_not_to_stdout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent:
        agent.bind(("127.0.0.1", 0))
        agent.settimeout(10)
        port = agent.getsockname()[1]
        sidecar = SidecarProcess(["run", *ARGS, "--sink", f"udp://127.0.0.1:{port}"])
        try:
            datagrams = [agent.recv(65536) for _ in range(6)]
        finally:
            assert sidecar.stop() == 0
    assert all(d.endswith(b"\n") and d.count(b"\n") == 1 for d in datagrams)
    docs = [check_emf(d.rstrip(b"\n")) for d in datagrams]
    assert any("NeuronCore" in doc for doc in docs)
    assert sidecar.stdout == []


def test_agent_down_never_stalls_the_sidecar() -> None:
    placeholder = socket.create_server(("127.0.0.1", 0))
    port = placeholder.getsockname()[1]
    placeholder.close()  # a TCP port nobody listens on
    sidecar = SidecarProcess(["run", *ARGS, "--sink", f"tcp://127.0.0.1:{port}"])
    try:
        wait_until(lambda: any("valid reports" in m for m in sidecar.log_messages()), 20, "reports")
        wait_until(
            lambda: any("lines dropped so far" in m for m in sidecar.log_messages()), 20, "drops"
        )
        assert not any("stopping neuron-monitor" in m for m in sidecar.log_messages())
    finally:
        assert sidecar.stop() == 0


def test_bad_sink_url_is_a_configuration_error() -> None:
    sidecar = SidecarProcess(["run", *ARGS, "--sink", "http://127.0.0.1:25888"])
    assert sidecar.proc.wait(20) == 78
    sidecar.stop()
    assert b"--sink" in b"".join(sidecar.stderr)
