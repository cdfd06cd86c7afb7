"""The simulated neuron-monitor's command line: ``-c`` config like the real one, scenario, faults.

Standard library only, like the rest of the simulator (it is the pipeline's test double).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from emf_neuron import sample_reports as samples

DEFAULT_PERIOD_SECONDS = 5.0  # neuron-monitor's own default when the config names no period
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


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
    add(
        "--chaos-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the probabilities below (mixed with the pid, so restarts differ)",
    )
    add("--crash-probability", type=float, default=0.0, metavar="P", help="P(exit 1) per report")
    add("--hang-probability", type=float, default=0.0, metavar="P", help="P(hang) per report")
    add("--burst", type=int, default=0, metavar="N", help="emit the first N reports at once")
    p.set_defaults(kill_signal=signal.SIGKILL)
    return p


def parse_args(argv: Sequence[str] | None) -> tuple[Options, float]:
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
