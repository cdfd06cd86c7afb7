"""A fake ``neuron-monitor``: the demo's data source and the watchdog tests' misbehaving child.

Owns the CLI, the pacing and the fault modes; report content comes from
``emf_neuron.sample_reports`` and ``emf_neuron.simulator_reports``. Must import only the standard
library and those two, and must write nothing to stdout but report lines (each flushed at once).
Run it as ``python -m emf_neuron.simulator --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from emf_neuron import sample_reports as samples
from emf_neuron import simulator_reports as reports

DEFAULT_PERIOD_SECONDS = 5.0  # neuron-monitor's own default when the config names no period
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_FLOOD_LINE = b"neuron-monitor simulator: stderr flood, this line is padding to fill the pipe.\n"


class _Terminated(BaseException):
    """Raised by the SIGTERM handler so that even a sleep ends at once."""


@dataclass(frozen=True, slots=True)
class Options:
    """The parsed command line (field names are the argparse destinations)."""

    config_file: Path | None
    verbose: int
    period_seconds: float | None
    scenario: str
    replay: Path | None
    loop: bool
    seed: int
    count: int | None
    crash_after: int | None
    exit_code: int
    signal_after: int | None
    kill_signal: signal.Signals
    hang_after: int | None
    stop_after: int | None
    ignore_term: bool
    garbage: bool
    error_reports: bool
    long_line_bytes: int
    stderr_flood_bytes: int
    fork_grandchild: bool
    byte_by_byte_seconds: float
    partial_then_exit: bool
    chaos_seed: int
    crash_probability: float
    hang_probability: float
    burst: int


def parse_duration(text: str) -> float:
    """Seconds in a neuron-monitor/Go duration such as ``"5s"``, ``"500ms"``, ``"1m30s"``.

    Raises:
        ValueError: the text is not such a duration.
    """
    parts = _DURATION_PART.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a duration: {text!r} (expected e.g. '5s', '500ms', '1m')")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def config_period(path: Path) -> float | None:
    """The root ``period`` of a neuron-monitor JSON config, in seconds (None if it has none).

    Raises:
        OSError: the file cannot be read.
        ValueError: the file is not JSON, or its period is not a duration.
        TypeError: the file is not a JSON object, or its period is not a string.
    """
    config = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise TypeError(f"{path}: a neuron-monitor config must be a JSON object")
    period = config.get("period")
    if period is None:
        return None
    if not isinstance(period, str):
        raise TypeError(f"{path}: 'period' must be a string such as '5s'")
    return parse_duration(period)


def _signal_type(text: str) -> signal.Signals:
    name = text.strip().upper()
    if name.isdigit() and int(name) in {int(s) for s in signal.Signals}:
        return signal.Signals(int(name))
    name = name if name.startswith("SIG") else "SIG" + name
    if name not in signal.Signals.__members__:
        raise argparse.ArgumentTypeError(f"unknown signal {text!r}")
    return signal.Signals[name]


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m emf_neuron.simulator",
        description="A fake neuron-monitor: writes one JSON report per line to stdout.",
    )
    add = p.add_argument
    add("-c", "--config-file", type=Path, metavar="PATH", help="neuron-monitor config (period)")
    add("--verbose", type=int, default=0, metavar="N", help="accepted, like neuron-monitor's")
    add("--period-seconds", type=float, metavar="S", help="report period (default 5, or config)")
    add("--scenario", default="trn1.2xlarge", choices=samples.SCENARIOS, help="report template")
    add("--replay", type=Path, metavar="FILE", help="emit this file's lines verbatim instead")
    add("--loop", action="store_true", help="with --replay, start over at the end of the file")
    add("--seed", type=int, default=0, metavar="N", help="seed of the utilization motion")
    add("--count", type=int, metavar="N", help="exit 0 after N reports")
    add("--crash-after", type=int, metavar="N", help="exit with --exit-code after N reports")
    add("--exit-code", type=int, default=1, metavar="C", help="for --crash-after (default 1)")
    add("--signal-after", type=int, metavar="N", help="kill itself with --signal after N reports")
    add("--signal", dest="kill_signal", type=_signal_type, metavar="SIG", help="default SIGKILL")
    add("--hang-after", type=int, metavar="N", help="after N reports go silent, stay alive")
    add("--stop-after", type=int, metavar="N", help="after N reports SIGSTOP itself")
    add("--ignore-term", action="store_true", help="ignore SIGTERM")
    add("--garbage", action="store_true", help="emit only garbage lines")
    add("--error-reports", action="store_true", help="emit reports whose every group has an error")
    add("--long-line-bytes", type=int, default=0, metavar="B", help="first emit a line of B bytes")
    add("--stderr-flood-bytes", type=int, default=0, metavar="B", help="first write B to stderr")
    add("--fork-grandchild", action="store_true", help="fork a stdout holder; exit 0 after 1")
    add("--byte-by-byte-seconds", type=float, default=0.0, metavar="S", help="bytewise report 1")
    add("--partial-then-exit", action="store_true", help="write one report without \\n, exit 0")
    add("--chaos-seed", type=int, default=0, metavar="N", help="seed of the probabilities below")
    add("--crash-probability", type=float, default=0.0, metavar="P", help="P(exit 1) per report")
    add("--hang-probability", type=float, default=0.0, metavar="P", help="P(hang) per report")
    add("--burst", type=int, default=0, metavar="N", help="emit the first N reports at once")
    p.set_defaults(kill_signal=signal.SIGKILL)
    return p


def _parse_args(argv: Sequence[str] | None) -> tuple[Options, float]:
    parser = _build_parser()
    opts = Options(**vars(parser.parse_args(argv)))
    if sum((opts.replay is not None, opts.garbage, opts.error_reports)) > 1:
        parser.error("--replay, --garbage and --error-reports are mutually exclusive")
    if opts.replay is not None and not opts.replay.is_file():
        parser.error(f"--replay: no such file: {opts.replay}")
    period = opts.period_seconds
    if period is None and opts.config_file is not None:
        try:
            period = config_period(opts.config_file)
        except (OSError, ValueError, TypeError) as exc:
            parser.error(f"bad --config-file: {exc}")
    period = DEFAULT_PERIOD_SECONDS if period is None else period
    if not period > 0:
        parser.error("the period must be positive")
    return opts, period


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
    chaos = random.Random(opts.chaos_seed)
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
    opts, period = _parse_args(argv)
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
