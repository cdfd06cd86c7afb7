"""The sinks against real file descriptors and real TCP/UDP listeners on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from support import wait_until

from emf_neuron.errors import ConfigError, SinkClosedError
from emf_neuron.sink import AgentTransport, QueuedSink, StdoutSink, transport_for


class TcpListener:
    """Accepts connections one after another and records every line received."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = self.server.getsockname()[1]
        self.lines: list[bytes] = []
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                buffer = b""
                while chunk := conn.recv(65536):
                    buffer += chunk
                    *complete, buffer = buffer.split(b"\n")
                    self.lines.extend(complete)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def tcp() -> Iterator[TcpListener]:
    listener = TcpListener()
    yield listener
    listener.close()


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def test_stdout_sink_writes_each_line_once_in_order() -> None:
    read_fd, write_fd = os.pipe()
    sink = StdoutSink(write_fd)
    for n in range(100):
        sink.write(b'{"n": %d}' % n)
    assert sink.close(5) == 0
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as reader:
        assert reader.read().splitlines() == [b'{"n": %d}' % n for n in range(100)]


def test_closed_pipe_fails_the_stdout_sink() -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    sink = StdoutSink(write_fd)
    sink.write(b"{}")
    wait_until(lambda: sink.failed, 5, "the EPIPE")
    with pytest.raises(SinkClosedError):
        sink.write(b"{}")
    os.close(write_fd)


def test_full_queue_drops_the_oldest_and_counts() -> None:
    read_fd, write_fd = os.pipe()  # nobody reads: the writer blocks once the pipe is full
    sink = StdoutSink(write_fd, max_queued_bytes=4096)
    for _ in range(200):
        sink.write(b"x" * 1000)
    assert sink.dropped > 0
    os.close(read_fd)  # unblock the writer (EPIPE) so its thread ends
    os.close(write_fd)


def test_tcp_agent_receives_every_document(tcp: TcpListener) -> None:
    sink = QueuedSink(transport_for(f"tcp://127.0.0.1:{tcp.port}"))
    docs = [b'{"_aws": {}, "n": %d}' % n for n in range(50)]
    for doc in docs:
        sink.write(doc)
    wait_until(lambda: len(tcp.lines) == 50, 5, "50 lines at the listener")
    assert tcp.lines == docs
    assert tcp.connections == 1
    assert sink.close(1) == 0


def test_tcp_agent_down_then_up_reconnects_and_counts_drops() -> None:
    placeholder = socket.create_server(("127.0.0.1", 0))
    port = placeholder.getsockname()[1]
    placeholder.close()  # nothing listens on the port now
    sink = QueuedSink(AgentTransport("tcp", "127.0.0.1", port, timeout_seconds=0.5))
    started = time.monotonic()
    sink.write(b'{"first": 1}')
    assert time.monotonic() - started < 0.1  # writing never waits for the agent
    wait_until(lambda: sink.dropped >= 1, 5, "a counted drop")
    assert not sink.failed  # the agent may come back: never fatal
    listener = TcpListener(port)
    try:
        sink.write(b'{"second": 2}')
        wait_until(lambda: b'{"second": 2}' in listener.lines, 10, "delivery after reconnect")
    finally:
        sink.close(1)
        listener.close()


def test_udp_agent_gets_one_datagram_per_document(udp: socket.socket) -> None:
    port = udp.getsockname()[1]
    sink = QueuedSink(transport_for(f"udp://127.0.0.1:{port}"))
    sink.write(b'{"a": 1}')
    sink.write(b'{"b": 2}')
    assert [udp.recv(65536), udp.recv(65536)] == [b'{"a": 1}\n', b'{"b": 2}\n']
    assert sink.close(1) == 0


@pytest.mark.parametrize(
    "url",
    ["tcp://", "http://127.0.0.1:25888", "tcp://host:0", "tcp://host:99999", "udp://h:1/path", ""],
    ids=["no-host", "http", "port-0", "port-too-big", "with-path", "empty"],
)
def test_bad_sink_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="--sink"):
        transport_for(url)


def test_agent_port_defaults_to_25888() -> None:
    transport = transport_for("udp://localhost")
    assert isinstance(transport, AgentTransport)
    assert transport.address == ("localhost", 25888)
