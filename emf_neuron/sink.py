"""Where EMF lines go: stdout (the default) or the CloudWatch agent over TCP or UDP.

Lines are queued and sent by one writer thread, one line per call sequence, never interleaved, so
a slow destination blocks that thread, not the loop that drains the child and runs the watchdog.
The queue is bounded in bytes; when it is full the oldest line is dropped and counted. On stdout,
EPIPE is fatal and reported through ``SinkClosedError`` on the next ``write``; the agent is
different: its failures drop the line (counted), and the sink reconnects with backoff, forever.
Nothing else in the sidecar process writes to fd 1.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections import deque
from typing import Protocol

from emf_neuron.convert import sink_address
from emf_neuron.errors import ConfigError, SinkClosedError

DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024
RETRY_FLOOR_SECONDS = 0.1
RETRY_CAP_SECONDS = 30.0


class Transport(Protocol):
    """How one line leaves the process."""

    def send(self, data: bytes) -> None:
        """Send ``data`` completely, or raise OSError."""

    def fatal(self, error: OSError) -> bool:
        """True if no later attempt can succeed (the sink then fails)."""

    def close(self) -> None:
        """Release what ``send`` opened (the writer calls it when it stops)."""


class FdTransport:
    """A file descriptor (stdout): every error is fatal, there is nowhere else to write."""

    def __init__(self, fd: int = 1) -> None:
        self._fd = fd

    def send(self, data: bytes) -> None:
        """Write all of ``data``, looping over partial writes (and waiting out EAGAIN, should
        fd 1 share a non-blocking file description with someone else)."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                select.select([], [self._fd], [], 1.0)

    def fatal(self, error: OSError) -> bool:
        """Always: a closed stdout does not come back."""
        return True

    def close(self) -> None:
        """Nothing: the fd belongs to the process, not to the sink."""


class AgentTransport:
    """The CloudWatch agent: one JSON document and a newline per message, over TCP or UDP."""

    def __init__(self, scheme: str, host: str, port: int, timeout_seconds: float = 5.0) -> None:
        self._kind = socket.SOCK_STREAM if scheme == "tcp" else socket.SOCK_DGRAM
        self.address = (host, port)
        self._timeout = timeout_seconds
        self._socket: socket.socket | None = None

    def send(self, data: bytes) -> None:
        """Connect if needed, then send; any error closes the socket for a fresh connect."""
        try:
            if self._socket is None:
                self._socket = socket.create_connection(self.address, self._timeout) if (
                    self._kind == socket.SOCK_STREAM
                ) else self._datagram_socket()  # fmt: skip
            self._socket.sendall(data)
        except OSError:
            self.close()
            raise

    def _datagram_socket(self) -> socket.socket:
        family, kind, proto, _, address = socket.getaddrinfo(*self.address, type=self._kind)[0]
        sock = socket.socket(family, kind, proto)
        sock.connect(address)  # sets the peer; nothing is sent
        return sock

    def fatal(self, error: OSError) -> bool:
        """Never: the agent may come back; the line is dropped and the sink retries later."""
        return False

    def close(self) -> None:
        """Forget the connection (the next send reconnects)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def transport_for(url: str) -> Transport:
    """``stdout``, ``tcp://host:port`` or ``udp://host:port`` (port 25888 if omitted).

    Raises:
        ConfigError: any other form.
    """
    try:
        address = sink_address(url)
    except ValueError as exc:
        raise ConfigError(f"--sink: {exc}") from None
    return FdTransport(1) if address is None else AgentTransport(*address)


class QueuedSink:
    """Queue lines for a writer thread; ``dropped`` counts lines lost to a full queue or a send."""

    def __init__(
        self, transport: Transport, max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES
    ) -> None:
        self._transport = transport
        self._max = max_queued_bytes
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._in_flight = False
        self._closing = False
        self._cond = threading.Condition()
        self.error: OSError | None = None
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="emf-neuron-sink", daemon=True)
        self._thread.start()

    def write(self, line: bytes) -> None:
        """Queue one document (without newline).

        Raises:
            SinkClosedError: the destination failed for good earlier (EPIPE on stdout).
        """
        data = line + b"\n"
        with self._cond:
            if self.error is not None:
                raise SinkClosedError(f"stdout is closed: {self.error.strerror or self.error}")
            self._queue.append(data)
            self._queued_bytes += len(data)
            while self._queued_bytes > self._max and len(self._queue) > 1:
                self._queued_bytes -= len(self._queue.popleft())
                self.dropped += 1
            self._cond.notify()

    @property
    def failed(self) -> bool:
        """True once the destination has failed for good; the loop checks this on every tick."""
        return self.error is not None

    def flush(self, timeout_seconds: float) -> bool:
        """Wait until every queued line is sent; False if the deadline passed first."""
        deadline = time.monotonic() + timeout_seconds
        with self._cond:
            while (self._queue or self._in_flight) and self.error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return self.error is None

    def close(self, timeout_seconds: float) -> int:
        """Flush within the deadline and stop the writer; returns the lines left unwritten."""
        self.flush(timeout_seconds)
        with self._cond:
            self._closing = True
            unwritten = len(self._queue) + (1 if self._in_flight else 0)
            self._cond.notify_all()
        return unwritten

    def _run(self) -> None:
        try:
            self._send_all()
        finally:
            self._transport.close()

    def _send_all(self) -> None:
        retry = RETRY_FLOOR_SECONDS
        while (data := self._next()) is not None:
            try:
                self._transport.send(data)
            except OSError as exc:
                if self._transport.fatal(exc):
                    self._settle(error=exc)
                    return
                self._settle(dropped=1, wait_seconds=retry)
                retry = min(retry * 2, RETRY_CAP_SECONDS)
                continue
            retry = RETRY_FLOOR_SECONDS
            self._settle()

    def _next(self) -> bytes | None:
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if not self._queue:
                return None
            data = self._queue.popleft()
            self._queued_bytes -= len(data)
            self._in_flight = True
            return data

    def _settle(
        self, *, error: OSError | None = None, dropped: int = 0,
        wait_seconds: float = 0.0,
    ) -> None:  # fmt: skip
        with self._cond:
            self.error = error
            self.dropped += dropped
            self._in_flight = False
            self._cond.notify_all()
            if wait_seconds and not self._closing:  # back off; close() wakes us at once
                self._cond.wait(wait_seconds)


class StdoutSink(QueuedSink):
    """The default sink: fd 1, which the ECS awslogs driver turns into log events."""

    def __init__(self, fd: int = 1, max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES) -> None:
        super().__init__(FdTransport(fd), max_queued_bytes)
