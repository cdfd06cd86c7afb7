"""Command line: parse flags, load settings, configure logging, run a command, map errors to codes.

Exit codes: 0 clean stop; 64 bad usage; 70 internal error; 74 stdout closed; 75 the monitor could
not be killed; 78 invalid configuration. Only ``__main__`` turns the return value into an exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path

from emf_neuron import __version__, errors
from emf_neuron.alarms import add_alarms_parser, run_alarms
from emf_neuron.commands import run_plan, run_sidecar
from emf_neuron.config import Settings, env_name, flag_name, load_settings
from emf_neuron.dashboard import add_dashboard_parser, run_dashboard
from emf_neuron.emf import preflight
from emf_neuron.insights import add_insights_parser, run_insights
from emf_neuron.logs import configure_logging, say
from emf_neuron.plan import INSTANCE_TYPES, PRICE_PER_GB_INGESTED_USD

logger = logging.getLogger(__name__)
AWS_COMMANDS = {"insights": run_insights, "dashboard": run_dashboard, "alarms": run_alarms}
COMMANDS = ("run", "demo", "plan", *AWS_COMMANDS)
DEMO_DEFAULTS = {"period_seconds": "1", "publish_interval_seconds": "5"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise errors.UsageError(message)


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
        "or -- --scenario trn1.2xlarge (default inf2.xlarge). Defaults: --period-seconds 1 "
        "--publish-interval-seconds 5.",
    )
    demo.add_argument("simulator_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    _add_plan_parser(commands, settings)
    add_insights_parser(commands)
    add_dashboard_parser(commands)
    add_alarms_parser(commands)
    return parser


def _add_plan_parser(commands: argparse._SubParsersAction[_Parser], settings: _Parser) -> None:
    plan = commands.add_parser(
        "plan",
        parents=[settings],
        help="list the metrics these settings would create, and their monthly cost",
        description="Runs the real pipeline over one publish interval of a sample report and "
        "counts the custom metrics (name x dimension set), EMF bytes and monthly cost.",
    )
    plan.add_argument(
        "--instance-type",
        default="inf1.xlarge",
        metavar="TYPE",
        help=f"bundled sample to plan for: {', '.join(INSTANCE_TYPES)} (default inf1.xlarge)",
    )
    plan.add_argument("--report", metavar="FILE", help="plan for the first report in FILE")
    plan.add_argument("--tasks", type=_count, default=1, metavar="N", help="number of tasks")
    plan.add_argument("--off-ecs", action="store_true", help="plan for a host outside ECS")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument(
        "--price-per-gb-ingested",
        type=_price,
        default=PRICE_PER_GB_INGESTED_USD,
        metavar="USD",
        help=f"CloudWatch Logs ingestion price (default {PRICE_PER_GB_INGESTED_USD})",
    )


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _price(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a price of 0 or more, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run emf-neuron; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    top_level = {*COMMANDS, "-h", "--help", "--version"}
    if not args_list or args_list[0] not in top_level:
        args_list.insert(0, "run")
    try:
        args = build_parser().parse_args(args_list)
    except errors.UsageError as exc:
        say(f"usage error: {exc} (see emf-neuron --help)")
        return errors.EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else errors.EXIT_OK
    if args.command in AWS_COMMANDS:  # they take no sidecar settings, and import boto3 lazily
        return AWS_COMMANDS[args.command](args)
    try:
        settings = _settings(args, env)
        preflight()
    except errors.ConfigError as exc:
        say(f"configuration error: {exc}")
        return errors.EXIT_CONFIG
    configure_logging("ERROR" if args.command == "plan" else settings.log_level)
    if args.command == "plan":
        return run_plan(args, settings)
    return run_sidecar(args, settings)


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
    except (OSError, ValueError, RecursionError) as exc:
        raise errors.ConfigError(f"--config {path}: {str(exc) or type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise errors.ConfigError(f"--config {path}: expected a table of settings")
    return {str(key).replace("-", "_"): value for key, value in data.items()}
