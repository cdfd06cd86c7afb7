"""The monitor child process: spawn, read, signal, reap. The only module that imports subprocess.

The child runs in its own process group, so signals reach any helper it forks, and its stdout and
stderr are non-blocking pipes the loop drains through ``selectors``. Exit is detected with
``waitid(WNOWAIT)`` (not EOF, which a grandchild holding the pipe can delay forever); the group is
then killed *before* the leader is reaped, while its PGID cannot yet be recycled. Only our own
child is ever waited for: never ``waitpid(-1)``, which would turn a crash into "exit 0".
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

READ_CHUNK_BYTES = 256 * 1024
DRAIN_LIMIT_BYTES = 8 * 1024 * 1024  # a pipe holds 64 KiB; a few reports' worth is plenty


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How the child ended: an exit code, or the signal that killed it."""

    code: int | None = None
    signal: int | None = None

    def describe(self) -> str:
        """One phrase for logs and the ``MonitorLastExit`` property."""
        if self.signal is not None:
            name = _signal_name(self.signal)
            hint = " (perhaps out of memory)" if self.signal == signal.SIGKILL else ""
            return f"killed by {name}{hint}"
        return f"exited with code {self.code}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class ChildProcess:
    """A running monitor. Create with ``spawn``; call ``reap`` once ``exited`` says so."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self.pid = process.pid
        self._fds: dict[str, int] = {}
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr)):
            if stream is not None:
                fd = stream.fileno()
                os.set_blocking(fd, False)
                self._fds[name] = fd

    @classmethod
    def spawn(cls, argv: Sequence[str]) -> ChildProcess:
        """Start ``argv`` in a new process group with piped stdout/stderr and no stdin.

        Raises:
            OSError: the program is missing, not executable, or the system refused the fork.
        """
        process = subprocess.Popen(  # noqa: S603 - argv comes from the operator's settings
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            process_group=0,
            close_fds=True,
        )
        return cls(process)

    @property
    def stdout_fd(self) -> int | None:
        """The fd to select on for reports, or None once closed."""
        return self._fds.get("stdout")

    @property
    def stderr_fd(self) -> int | None:
        """The fd to select on for diagnostics, or None once closed."""
        return self._fds.get("stderr")

    def read(self, fd: int) -> bytes | None:
        """What is available on ``fd``; b"" at EOF (the fd is then closed); None if nothing yet."""
        try:
            data = os.read(fd, READ_CHUNK_BYTES)
        except BlockingIOError:
            return None
        if not data:
            self._close(fd)
        return data

    def exited(self) -> bool:
        """True once the leader has exited (it is left unreaped, so its PGID stays ours)."""
        if self._process.returncode is not None:
            return True
        try:
            result = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return result is not None

    def terminate(self) -> None:
        """SIGTERM then SIGCONT to the whole group (CONT wakes a stopped child so TERM acts)."""
        self._signal_group(signal.SIGTERM)
        self._signal_group(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL to the whole group."""
        self._signal_group(signal.SIGKILL)

    def reap(self) -> ExitStatus:
        """Kill what is left of the group, reap the leader, close the pipes; say how it ended."""
        self.kill()  # stragglers (a grandchild holding stdout) die before the PGID can recycle
        returncode = self._process.wait()
        for fd in list(self._fds.values()):
            self._close(fd)
        if returncode < 0:
            return ExitStatus(signal=-returncode)
        return ExitStatus(code=returncode)

    def drain(self, fd: int, limit_bytes: int = DRAIN_LIMIT_BYTES) -> bytes:
        """What is already in the pipe, up to ``limit_bytes`` (right after exit, so no last line
        is lost; bounded, in case something still writes)."""
        chunks: list[bytes] = []
        size = 0
        while size < limit_bytes and fd in self._fds.values() and (data := self.read(fd)):
            chunks.append(data)
            size += len(data)
        return b"".join(chunks)

    def _signal_group(self, sig: int) -> None:
        if self._process.returncode is not None:
            return  # reaped: the PGID may belong to someone else now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _close(self, fd: int) -> None:
        for name, known in list(self._fds.items()):
            if known == fd:
                del self._fds[name]
                stream = self._process.stdout if name == "stdout" else self._process.stderr
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


def is_missing_program(exc: OSError) -> bool:
    """ENOENT/EACCES/ENOEXEC: a configuration problem that retrying may not fix soon."""
    return exc.errno in {errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR}
