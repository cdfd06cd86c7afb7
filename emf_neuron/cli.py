"""Command line: parse flags, load settings, configure logging, run a command, map errors to codes.

Exit codes: 0 clean stop; 64 bad usage; 70 internal error; 74 stdout closed; 75 the monitor could
not be killed; 78 invalid configuration. Only ``__main__`` turns the return value into an exit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields
from pathlib import Path

from emf_neuron import __version__, errors
from emf_neuron.config import DEFAULT_MONITOR, Settings, env_name, flag_name, load_settings
from emf_neuron.ecs import KNOWN_LABELS, TaskMetadata, fetch_task_metadata
from emf_neuron.emf import preflight
from emf_neuron.interval import REPORT_LABELS, Layout
from emf_neuron.logs import configure_logging
from emf_neuron.monitor_config import monitor_config
from emf_neuron.pipeline import Pipeline
from emf_neuron.sidecar import Clocks, Sidecar
from emf_neuron.sink import StdoutSink
from emf_neuron.supervisor import Supervisor

logger = logging.getLogger(__name__)
COMMANDS = ("run", "demo")
KNOWN_DIMENSIONS = frozenset(KNOWN_LABELS) | frozenset(REPORT_LABELS)
DEMO_DEFAULTS = {"period_seconds": "1", "publish_interval_seconds": "5"}


class UsageError(Exception):
    """argparse found a bad flag; reported as one line and EX_USAGE instead of exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The parser: subcommands ``run`` (the default) and ``demo``, each with every setting."""
    parser = _Parser(
        prog="emf-neuron",
        description="Run AWS neuron-monitor under a watchdog and write its reports to stdout as "
        "CloudWatch Embedded Metric Format. Every flag also reads EMF_NEURON_<NAME>.",
    )
    parser.add_argument("--version", action="version", version=f"emf-neuron {__version__}")
    settings = _Parser(add_help=False)
    settings.add_argument("--config", metavar="FILE", help="TOML or JSON file of settings.")
    for field in fields(Settings):
        settings.add_argument(
            flag_name(field.name),
            dest=field.name,
            metavar=field.metadata["metavar"],
            help=f"{field.metadata['help']} [{env_name(field.name)}]",
        )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "run", parents=[settings], help="the sidecar (default): supervise neuron-monitor"
    )
    demo = commands.add_parser(
        "demo",
        parents=[settings],
        help="the sidecar against the bundled simulated neuron-monitor (no device needed)",
        description="Arguments after '--' go to the simulator, e.g. -- --crash-after 20 "
        "or -- --scenario inf1.xlarge. Defaults: --period-seconds 1 --publish-interval-seconds 5.",
    )
    demo.add_argument("simulator_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run emf-neuron; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    top_level = {*COMMANDS, "-h", "--help", "--version"}
    if not args_list or args_list[0] not in top_level:
        args_list.insert(0, "run")
    try:
        args = build_parser().parse_args(args_list)
    except UsageError as exc:
        _say(f"usage error: {exc} (see emf-neuron --help)")
        return errors.EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else errors.EXIT_OK
    try:
        settings = _settings(args, env)
        preflight()
    except errors.ConfigError as exc:
        _say(f"configuration error: {exc}")
        return errors.EXIT_CONFIG
    configure_logging(settings.log_level)
    return _run(args, settings)


def _settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    flags = {f.name: getattr(args, f.name) for f in fields(Settings)}
    path = args.config or env.get("EMF_NEURON_CONFIG")
    file_values: dict[str, object] = dict(DEMO_DEFAULTS) if args.command == "demo" else {}
    if path:
        file_values.update(read_config_file(Path(path)))
    return load_settings(flags, env, file_values)


def read_config_file(path: Path) -> dict[str, object]:
    """Settings from a TOML or JSON file (keys are the setting names, with '_' or '-').

    Raises:
        ConfigError: the file cannot be read or is not a table of settings.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise errors.ConfigError(f"--config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise errors.ConfigError(f"--config {path}: expected a table of settings")
    return {str(key).replace("-", "_"): value for key, value in data.items()}


def build_layout(settings: Settings, metadata: TaskMetadata | None) -> Layout:
    """Dimension sets (explicit, or the ECS default, or InstanceId) and the task's labels.

    Raises:
        ConfigError: a dimension name is neither an ECS nor a report label.
    """
    default = metadata.default_dimensions if metadata else ("InstanceId",)
    sets = settings.dimensions or (default,)
    unknown = {name for names in sets for name in names} - KNOWN_DIMENSIONS
    if unknown:
        known = ", ".join(sorted(KNOWN_DIMENSIONS))
        raise errors.ConfigError(f"--dimensions: unknown {sorted(unknown)}; known: {known}")
    return Layout(
        dimensions=sets[0],
        extra_dimension_sets=sets[1:],
        static_labels=metadata.labels if metadata else {},
        sparse_counters=settings.sparse_counters,
        max_runtime_tags=settings.max_runtime_tags,
        high_resolution=settings.high_resolution,
    )


def build_pipeline(settings: Settings, layout: Layout) -> Pipeline:
    """The pure processing chain for these settings."""
    pattern = settings.runtime_tag_pattern
    return Pipeline(
        settings.namespace,
        settings.metrics,
        layout,
        settings.max_line_bytes,
        runtime_tags=re.compile(pattern) if pattern else None,
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    metadata = fetch_task_metadata(os.environ)
    try:
        layout = build_layout(settings, metadata)
    except errors.ConfigError as exc:
        _say(f"configuration error: {exc}")
        return errors.EXIT_CONFIG
    if metadata is not None:
        logger.info("on ECS: dimensions %s", " + ".join(layout.dimensions))
    pipeline = build_pipeline(settings, layout)
    sink = StdoutSink()
    try:
        if settings.input == "-":
            logger.info("reading neuron-monitor reports from stdin")
            return Sidecar(pipeline, sink, settings, Clocks()).run(fd=0)
        with _monitor_command(args, settings) as argv:
            return Supervisor(pipeline, sink, settings, argv, Clocks()).run_child()
    except errors.HaltError as exc:
        if exc.exit_code == errors.EXIT_IOERR:
            _silence_stdout()
        logger.error("stopping: %s", exc)  # noqa: TRY400 - an expected halt, no traceback
        return exc.exit_code
    except Exception:  # the one top-level guard: log the bug once and exit, never loop
        logger.exception("internal error")
        return errors.EXIT_SOFTWARE


@contextlib.contextmanager
def _monitor_command(args: argparse.Namespace, settings: Settings) -> Iterator[list[str]]:
    """The child's argv; writes the generated neuron-monitor config to a private temp file."""
    if settings.monitor_command and args.command != "demo":
        yield list(settings.monitor_command)
        return
    config = monitor_config(settings.period_seconds, settings.metrics)
    fd, name = tempfile.mkstemp(prefix="emf-neuron-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        if args.command == "demo":
            extra = [a for a in args.simulator_args if a != "--"]
            yield [sys.executable, "-m", "emf_neuron.simulator", "-c", name, *extra]
        else:
            yield [DEFAULT_MONITOR, "-c", name]
    finally:
        with contextlib.suppress(OSError):
            Path(name).unlink()


def _silence_stdout() -> None:
    """After EPIPE, point fd 1 at /dev/null so interpreter shutdown cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _say(message: str) -> None:
    """One line on stderr before logging is configured."""
    sys.stderr.write(f"emf-neuron: {message}\n")
