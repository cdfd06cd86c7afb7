"""A fake ``neuron-monitor``: the demo's data source and the watchdog tests' misbehaving child.

Owns the pacing and the fault modes; the command line is ``simulator_options``, report content
comes from ``sample_reports`` and ``simulator_reports``. Must import only the standard library and
those three, and must write nothing to stdout but report lines (each flushed at once).
Run it as ``python -m emf_neuron.simulator --help``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from emf_neuron import sample_reports as samples
from emf_neuron import simulator_reports as reports
from emf_neuron.simulator_options import Options, parse_args

_FLOOD_LINE = b"neuron-monitor simulator: stderr flood, this line is padding to fill the pipe.\n"


class _Terminated(BaseException):
    """Raised by the SIGTERM handler so that even a sleep ends at once."""


def _write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _write_slowly(line: bytes, seconds: float) -> None:
    start = time.monotonic()
    for i in range(len(line)):
        _sleep_until(start + seconds * i / len(line))
        _write(line[i : i + 1])


def _sleep_until(deadline: float) -> None:
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(remaining)


def _hang() -> NoReturn:
    while True:
        time.sleep(3600)


def _kill_self(sig: signal.Signals) -> int:
    if sig not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(sig, signal.SIG_DFL)  # die of the signal, not of our handler for it
    os.kill(os.getpid(), sig)
    time.sleep(1.0)  # only reached for signals whose default action is not to terminate
    return 1


def _fork_grandchild() -> None:
    """Fork a process that keeps our stdout open, writes nothing, and sleeps 300 s."""
    sys.stdout.buffer.flush()
    sys.stderr.flush()
    if os.fork() == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            time.sleep(300)
        finally:
            os._exit(0)  # never run the parent's cleanup or flush its buffers


def _prelude(opts: Options) -> None:
    """The start-up faults: an stderr flood, then one over-long stdout line."""
    flood = opts.stderr_flood_bytes
    chunk = _FLOOD_LINE * (65536 // len(_FLOOD_LINE))
    while flood > 0:
        sys.stderr.buffer.write(chunk[:flood])
        flood -= len(chunk)
    sys.stderr.buffer.flush()
    size = opts.long_line_bytes
    if size > 0:
        body = b'"' + b"x" * (size - 2) + b'"' if size >= 2 else b"x" * size
        _write(body + b"\n")


def _lines(opts: Options, period: float) -> Iterator[bytes]:
    """The stream of lines to emit, one per period, each ending in a newline."""
    if opts.replay is not None:
        yield from _replay(opts.replay, loop=opts.loop)
        return
    template = samples.load_template(opts.scenario)
    template_text = json.dumps(template)  # parsed again per report: a cheap deep copy
    rng = random.Random(opts.seed)
    for index in range(sys.maxsize):
        if opts.error_reports:
            yield samples.compact(reports.error_report(template, period))
            continue
        report = reports.animate(json.loads(template_text), index, period, rng)
        line = samples.compact(report)
        yield reports.garbage_line(index, line) if opts.garbage else line


def _replay(path: Path, *, loop: bool) -> Iterator[bytes]:
    lines = [
        line if line.endswith(b"\n") else line + b"\n"
        for line in path.read_bytes().splitlines(keepends=True)
    ]
    while lines:
        yield from lines
        if not loop:
            return


def _fault_exit(opts: Options, emitted: int, chaos: random.Random) -> int | None:
    """The exit code due after ``emitted`` reports, or None to go on (hangs never return)."""
    if opts.crash_after is not None and emitted >= opts.crash_after:
        return opts.exit_code
    if opts.signal_after is not None and emitted >= opts.signal_after:
        return _kill_self(opts.kill_signal)
    if opts.hang_after is not None and emitted >= opts.hang_after:
        _hang()
    if opts.stop_after is not None and emitted == opts.stop_after:
        os.kill(os.getpid(), signal.SIGSTOP)
    if (opts.count is not None and emitted >= opts.count) or (opts.fork_grandchild and emitted > 0):
        return 0
    if emitted > 0 and (opts.crash_probability or opts.hang_probability):
        roll = chaos.random()
        if roll < opts.crash_probability:
            return 1
        if roll < opts.crash_probability + opts.hang_probability:
            _hang()
    return None


def _emit(opts: Options, line: bytes, emitted: int) -> None:
    if emitted == 0 and opts.byte_by_byte_seconds > 0:
        _write_slowly(line, opts.byte_by_byte_seconds)
    else:
        _write(line)


def _run(opts: Options, period: float) -> int:
    """Emit reports on schedule until a fault, the count or the end of the replay says stop."""
    # The pid is mixed in: a restarted child must not replay its predecessor's exact fate.
    chaos = random.Random(f"{opts.chaos_seed}:{os.getpid()}")
    lines = _lines(opts, period)
    emitted = 0
    next_due = time.monotonic()  # the first report goes out at once, like neuron-monitor's
    outcome = _fault_exit(opts, emitted, chaos)
    while outcome is None:
        line = next(lines, None)
        if line is None:
            return 0
        _sleep_until(next_due)
        if opts.partial_then_exit:
            _write(line.rstrip(b"\n"))
            return 0
        _emit(opts, line, emitted)
        emitted += 1
        outcome = _fault_exit(opts, emitted, chaos)
        now = time.monotonic()
        # Back to back during a burst; otherwise on the grid, without catching up missed slots.
        next_due = now if emitted < opts.burst else max(next_due + period, now)
    return outcome


def _on_term(signum: int, frame: object) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator; returns the process exit code."""
    opts, period = parse_args(argv)
    # Like the Go binary (and unlike Python's default), die of SIGPIPE when the reader goes away.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if opts.fork_grandchild:
        _fork_grandchild()
    signal.signal(signal.SIGTERM, signal.SIG_IGN if opts.ignore_term else _on_term)
    try:
        _prelude(opts)
        return _run(opts, period)
    except _Terminated:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
