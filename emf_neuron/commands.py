"""The commands' bodies: the sidecar (``run``, ``demo``) and ``plan``.

``cli`` parses and validates; this module wires settings to the pipeline, the sink and the loop,
or to the plan. It writes to stdout only through ``sink.QueuedSink`` (the sidecar) or once, at the
end, for ``plan``'s result.
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
from collections.abc import Iterator
from pathlib import Path

from emf_neuron import errors
from emf_neuron.config import DEFAULT_MONITOR, Settings
from emf_neuron.ecs import TaskMetadata, fetch_task_metadata
from emf_neuron.interval import Layout
from emf_neuron.logs import say
from emf_neuron.monitor_config import monitor_config
from emf_neuron.pipeline import Pipeline
from emf_neuron.plan import (
    INSTANCE_TYPES,
    format_table,
    make_plan,
    sample_report,
    to_json,
)
from emf_neuron.sidecar import Clocks, Sidecar
from emf_neuron.sink import QueuedSink, transport_for
from emf_neuron.supervisor import Supervisor

logger = logging.getLogger(__name__)
DEMO_SCENARIO = "inf2.xlarge"  # current hardware, and no error storm (unlike the 2022 trn1 capture)


def build_layout(settings: Settings, metadata: TaskMetadata | None) -> Layout:
    """Dimension sets (explicit, or the ECS default, or InstanceId) and the task's labels."""
    default = metadata.default_dimensions if metadata else ("InstanceId",)
    sets = settings.dimensions or (default,)
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


def run_sidecar(args: argparse.Namespace, settings: Settings) -> int:
    """The sidecar: supervise the monitor (or read stdin) until stopped; the exit code."""
    metadata = fetch_task_metadata(os.environ)  # None off ECS or on any failure: never raises
    layout = build_layout(settings, metadata)
    if metadata is not None:
        logger.info("on ECS: dimensions %s", " + ".join(layout.dimensions))
    pipeline = build_pipeline(settings, layout)
    sink = QueuedSink(transport_for(settings.sink))  # the URL was checked with the settings
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
    try:
        fd, name = tempfile.mkstemp(prefix="emf-neuron-", suffix=".json")
    except OSError as exc:
        reason = f"cannot write the neuron-monitor config to {tempfile.gettempdir()}: {exc}"
        hint = " (with a read-only root filesystem, mount a tmpfs at /tmp)"
        raise errors.HaltError(reason + hint, errors.EXIT_CANTCREAT) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        if args.command == "demo":
            extra = [a for a in args.simulator_args if a != "--"]
            if not {"--scenario", "--replay"} & set(extra):
                extra = ["--scenario", DEMO_SCENARIO, *extra]
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


# An ECS service as the plan imagines it: only the dimension names matter for the count.
PLANNED_TASK = TaskMetadata(
    {
        "ClusterName": "my-cluster",
        "ServiceName": "my-service",
        "TaskFamily": "my-task",
        "TaskRevision": "1",
        "TaskId": "0123456789abcdef0123456789abcdef",
        "ContainerName": "emf-neuron",
        "LaunchType": "EC2",
    }
)


def run_plan(args: argparse.Namespace, settings: Settings) -> int:
    """Print what these settings would publish for a sample report, and what it costs."""
    try:
        layout = build_layout(settings, None if args.off_ecs else PLANNED_TASK)
        if args.report:
            report, source = Path(args.report).read_bytes().splitlines()[0], args.report
        else:
            report, source = sample_report(args.instance_type), f"{args.instance_type} sample"
    except (errors.ConfigError, OSError, IndexError) as exc:
        say(f"plan: {str(exc) or 'the report file is empty'}")
        return errors.EXIT_CONFIG
    except KeyError:
        say(f"plan: no bundled sample for {args.instance_type!r}; try {', '.join(INSTANCE_TYPES)}")
        return errors.EXIT_USAGE
    per_interval = round(settings.publish_interval_seconds / settings.period_seconds)
    plan = make_plan(
        build_pipeline(settings, layout),
        report,
        per_interval,
        settings.publish_interval_seconds,
        args.tasks,
    )
    if args.json:
        sys.stdout.write(to_json(plan, args.price_per_gb_ingested))
    else:
        title = (
            f"emf-neuron plan: {source}, profile {settings.profile}, "
            f"dimensions {' ; '.join(','.join(d) for d in layout.dimension_sets)}"
        )
        sys.stdout.write(format_table(plan, title, args.price_per_gb_ingested))
    return errors.EXIT_OK
