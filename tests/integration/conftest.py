"""Helpers for the fault-matrix integration tests: fast timer flags, /proc inspection, the
sidecar's JSON log records, a sidecar with custom stdio, and small helper programs (an init that
reaps orphans, a monitor that escapes its process group). Real processes only, no mocks.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest
from support import SidecarProcess, check_emf, metric_values, simulator_command, wait_until

FLOOR = 0.2  # --backoff-floor-seconds of the fast timers
CAP = 1.0  # --backoff-cap-seconds
INTERVAL = 0.5  # --publish-interval-seconds
STOP_TIMEOUT = 6.0  # --stop-timeout-seconds
STOP_GRACE = min(5.0, STOP_TIMEOUT * 0.3)  # sidecar.policy_for: TERM -> KILL, and KILL -> give up
TIMERS: dict[str, float] = {
    "period_seconds": 0.2,
    "publish_interval_seconds": INTERVAL,
    "hang_timeout_seconds": 1.0,
    "startup_grace_seconds": 1.5,
    "backoff_floor_seconds": FLOOR,
    "backoff_cap_seconds": CAP,
    "stop_timeout_seconds": STOP_TIMEOUT,
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_STARTED = re.compile(r"^started neuron-monitor \(pid (\d+)\)")


def timer_flags(**overrides: float) -> list[str]:
    """The fast timers as flags; keyword arguments (setting names) override single values."""
    flags: list[str] = []
    for name, value in {**TIMERS, **overrides}.items():
        flags += ["--" + name.replace("_", "-"), str(value)]
    return flags


def run_args(
    *sim_args: str,
    monitor: str | None = None,
    timers: Mapping[str, float] | None = None,
    **overrides: float,
) -> list[str]:
    """``run`` with the fast timers, supervising the simulator (period 0.1 s) with ``sim_args``
    (or the command ``monitor``); ``timers`` and keyword arguments override timer settings."""
    command = monitor or simulator_command("--period-seconds", "0.1", *sim_args)
    return ["run", "--monitor-command", command, *timer_flags(**{**(timers or {}), **overrides})]


# -- /proc ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proc:
    """The fields of /proc/<pid>/stat the tests need."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    cpu_ticks: int  # utime + stime

    @property
    def zombie(self) -> bool:
        """True for an exited, unreaped process."""
        return self.state in {"Z", "X"}


def read_proc(pid: int) -> Proc | None:
    """The process ``pid`` now, or None if it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return Proc(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]))


def all_procs() -> list[Proc]:
    """Every process on the machine."""
    procs = (
        read_proc(int(entry.name)) for entry in Path("/proc").iterdir() if entry.name.isdigit()
    )
    return [proc for proc in procs if proc is not None]


def children(pid: int) -> list[Proc]:
    """Processes (zombies included) whose parent is ``pid``."""
    return [proc for proc in all_procs() if proc.ppid == pid]


def live_in_groups(pgids: Sequence[int]) -> list[Proc]:
    """Processes that are not zombies and belong to one of the process groups ``pgids``."""
    wanted = set(pgids)
    return [proc for proc in all_procs() if proc.pgrp in wanted and not proc.zombie]


def alive(pid: int) -> bool:
    """True if ``pid`` exists and has not exited."""
    proc = read_proc(pid)
    return proc is not None and not proc.zombie


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) that ``pid`` itself has used so far."""
    proc = read_proc(pid)
    assert proc is not None, f"process {pid} is gone"
    return proc.cpu_ticks / CLOCK_TICKS


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status, e.g. VmRSS or VmHWM (the peak RSS)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


# -- log records and documents -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """One diagnostic line of the sidecar."""

    time: float  # wall-clock seconds
    level: str
    message: str


def records(sidecar: SidecarProcess) -> list[Record]:
    """Every stderr record, parsed (each stderr line must be one JSON object)."""
    out = []
    for entry in sidecar.logs():
        assert isinstance(entry, dict), entry
        stamp = datetime.strptime(entry["Time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        out.append(Record(stamp.timestamp(), str(entry["Level"]), str(entry["Message"])))
    return out


def matching(sidecar: SidecarProcess, pattern: str) -> list[Record]:
    """Records whose message matches the regular expression ``pattern`` (``re.search``)."""
    return [record for record in records(sidecar) if re.search(pattern, record.message)]


def has(sidecar: SidecarProcess, pattern: str) -> bool:
    """True if some record's message matches ``pattern``."""
    return bool(matching(sidecar, pattern))


def state(pid: int) -> str | None:
    """The state letter of ``pid`` (R, S, T, Z, ...), or None if it does not exist."""
    proc = read_proc(pid)
    return None if proc is None else proc.state


def started_pids(sidecar: SidecarProcess) -> list[int]:
    """PIDs of every monitor child the sidecar logged as started, in order."""
    found = (_STARTED.match(record.message) for record in records(sidecar))
    return [int(match.group(1)) for match in found if match]


_PARSED: weakref.WeakKeyDictionary[SidecarProcess, list[dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def docs(sidecar: SidecarProcess) -> list[dict[str, Any]]:
    """Like ``sidecar.docs()`` (every complete line checked as EMF), parsing each line once, so
    that polling it stays cheap while the sidecar writes hundreds of documents."""
    parsed = _PARSED.setdefault(sidecar, [])
    for line in sidecar.stdout[len(parsed) :]:
        if not line.endswith(b"\n"):
            break
        parsed.append(check_emf(line.rstrip(b"\n")))
    return list(parsed)


def task_docs(sidecar: SidecarProcess) -> list[dict[str, Any]]:
    """The task documents (the ones carrying the health metrics), in order."""
    return [doc for doc in docs(sidecar) if "MonitorUp" in doc]


def total(sidecar: SidecarProcess, name: str) -> float:
    """The sum of every published value of ``name`` (a metric or a numeric property)."""
    if name == "ReportsInInterval":
        return float(sum(doc["ReportsInInterval"] for doc in task_docs(sidecar)))
    return float(sum(metric_values(docs(sidecar), name)))


def core_values(sidecar: SidecarProcess, name: str) -> dict[str, list[float]]:
    """Every value of per-core metric ``name``, by NeuronCore."""
    out: dict[str, list[float]] = {}
    for doc in docs(sidecar):
        if "NeuronCore" in doc:
            out.setdefault(doc["NeuronCore"], []).extend(metric_values([doc], name))
    return out


def assert_clean_stderr(sidecar: SidecarProcess) -> None:
    """Every stderr line is one JSON object, and there is no traceback or ignored exception."""
    raw = b"".join(sidecar.stderr)
    assert all(line.endswith(b"\n") for line in sidecar.stderr), "a stderr line is unterminated"
    for needle in (b"Traceback", b"Exception ignored", b"BrokenPipeError", b"reentrant call"):
        assert needle not in raw, raw[-3000:].decode(errors="replace")
    records(sidecar)


def assert_no_leftovers(sidecar_pid: int, child_pids: Sequence[int]) -> None:
    """After the sidecar exited: nothing of any monitor's process group is still running, and
    every monitor child was reaped by the sidecar (not left as a zombie for init)."""

    def clean() -> bool:
        return not live_in_groups(child_pids) and not children(sidecar_pid)

    wait_until(clean, 5.0, f"no live process in groups {list(child_pids)}")
    for pid in child_pids:
        proc = read_proc(pid)
        assert proc is None or proc.pgrp != pid, f"monitor {pid} left unreaped: {proc}"


def finish(
    sidecar: SidecarProcess,
    expected: int = 0,
    sig: int = signal.SIGTERM,
    *,
    reaped: bool = True,
) -> int:
    """Stop the sidecar, check its exit code, its stderr and that no monitor process remains."""
    code = sidecar.stop(sig, timeout=STOP_TIMEOUT + 10)
    tail = b"".join(sidecar.stderr[-15:]).decode(errors="replace")
    assert code == expected, f"exit code {code}, expected {expected}; stderr tail:\n{tail}"
    assert_clean_stderr(sidecar)
    pids = started_pids(sidecar)
    if reaped:
        assert_no_leftovers(sidecar.proc.pid, pids)
    else:
        wait_until(lambda: not live_in_groups(pids), 5.0, "no live monitor process")
    return code


# -- a sidecar with custom stdio -----------------------------------------------------------------


def python_argv(*args: str) -> list[str]:
    """``python -m emf_neuron ARGS``."""
    return [sys.executable, "-m", "emf_neuron", *args]


class CustomSidecar(SidecarProcess):
    """Like ``SidecarProcess`` but with any argv (not only the CLI's)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        stdin: int | IO[bytes] = subprocess.DEVNULL,
        read_stdout: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__((), env, argv=argv, stdin=stdin, read_stdout=read_stdout)


@pytest.fixture
def sidecars() -> Iterator[Callable[..., SidecarProcess]]:
    """Factory for ``SidecarProcess``; whatever a failing test leaves running is killed."""
    started: list[SidecarProcess] = []

    def start(args: Sequence[str], env: dict[str, str] | None = None) -> SidecarProcess:
        sidecar = SidecarProcess(args, env)
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        kill_everything(sidecar)


def kill_everything(sidecar: SidecarProcess) -> None:
    """SIGKILL the sidecar (if still running) and every process of its monitors' groups."""
    if sidecar.proc.poll() is None:
        sidecar.proc.kill()
    sidecar.stop(signal.SIGKILL, timeout=10)  # reaps it and joins the reader threads
    for stream in (sidecar.proc.stdin, sidecar.proc.stdout, sidecar.proc.stderr):
        if stream is not None:
            stream.close()
    for proc in live_in_groups(started_pids_unchecked(sidecar)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)


def started_pids_unchecked(sidecar: SidecarProcess) -> list[int]:
    """Like ``started_pids`` but tolerant of stderr lines that are not JSON (for cleanup)."""
    pids = []
    for line in list(sidecar.stderr):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            match = _STARTED.match(str(json.loads(line)["Message"]))
            if match:
                pids.append(int(match.group(1)))
    return pids


# -- helper programs -----------------------------------------------------------------------------

# A monitor that leaves the process group the sidecar created for it, so that killpg() on that
# group reaches nothing: from the sidecar's side it is a child that SIGTERM and SIGKILL cannot
# stop (the "stuck in the driver" case). A helper forked first owns the new group; the monitor
# joins it and execs the simulator. argv: simulator arguments.
ESCAPING_MONITOR = """\
import os, sys, time
ready_r, ready_w = os.pipe()
helper = os.fork()
if helper == 0:
    os.setpgid(0, 0)
    os.write(ready_w, b"x")
    time.sleep(120)
    os._exit(0)
os.read(ready_r, 1)
os.setpgid(0, helper)
os.execv(sys.executable, [sys.executable, "-m", "emf_neuron.simulator", *sys.argv[1:]])
"""

# A tiny init (what ECS initProcessEnabled / docker --init provide): becomes a child subreaper,
# runs argv[2:], forwards SIGTERM/SIGINT, reaps every orphan re-parented to it, and writes how
# many it reaped to the file argv[1] when the main child has exited. Exit code: the child's.
MINI_INIT = """\
import ctypes, os, signal, sys
PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit(99)
main = os.fork()
if main == 0:
    os.execv(sys.argv[2], sys.argv[2:])
def forward(signum, frame):
    os.kill(main, signum)
signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGINT, forward)
reaped = 0
code = 0
while True:
    try:
        pid, status = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    if pid == main:
        code = os.waitstatus_to_exitcode(status)
    else:
        reaped += 1
with open(sys.argv[1], "w") as out:
    out.write(str(reaped))
sys.exit(code if code >= 0 else 128 - code)
"""

# A monitor whose first run forks N children that exit at once and are never waited for, then
# execs the simulator; when it exits, the N zombies are orphaned and re-parented to the init.
# argv: marker file (its existence means "not the first run"), N, simulator arguments.
ORPHAN_MAKER = """\
import os, sys
marker, count = sys.argv[1], int(sys.argv[2])
if not os.path.exists(marker):
    open(marker, "w").close()
    for _ in range(count):
        if os.fork() == 0:
            os._exit(0)
os.execv(sys.executable, [sys.executable, "-m", "emf_neuron.simulator", *sys.argv[3:]])
"""


def write_script(directory: Path, name: str, text: str) -> Path:
    """Write a helper program into ``directory``; returns its path."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
