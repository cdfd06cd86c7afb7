"""Settings: one frozen dataclass, loaded by a pure function from flags, env vars and a file.

Every setting has one name in three spellings: field ``hang_timeout_seconds``, flag
``--hang-timeout-seconds``, env var ``EMF_NEURON_HANG_TIMEOUT_SECONDS``. Precedence is
flag > env > config file > default. This module reads no environment and no file by itself:
callers pass them in, so tests need no monkeypatching.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from emf_neuron.catalogue import KNOWN_DIMENSIONS, PROFILES, SPECS
from emf_neuron.convert import CONVERTERS, text
from emf_neuron.errors import ConfigError

ENV_PREFIX = "EMF_NEURON_"
DEFAULT_MONITOR = "/opt/aws/neuron/bin/neuron-monitor"
_NAMESPACE = re.compile(r"^[a-zA-Z0-9._#:/-]{1,256}$")
_HANG_MARGIN_SECONDS = 5.0
MIN_PERIOD_SECONDS = 0.01


def _setting(help_text: str, default: Any, *, metavar: str = "VALUE") -> Any:  # noqa: ANN401
    """A dataclass field carrying its help text: the single source for --help, env and README."""
    return field(default=default, metadata={"help": help_text, "metavar": metavar})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the sidecar can be told. Durations are in seconds; ``None`` means derived."""

    namespace: str = _setting(
        "CloudWatch namespace of every metric.", "NeuronMonitor", metavar="NS"
    )
    monitor_command: tuple[str, ...] = _setting(
        "Command line of the monitor child (shell-quoted). Default: "
        f"{DEFAULT_MONITOR} -c <generated config>.",
        (),
        metavar="CMD",
    )
    input: str | None = _setting(
        "'-' reads reports from stdin instead of starting a monitor (no watchdog).",
        None,
        metavar="-",
    )
    period_seconds: float = _setting("neuron-monitor report period.", 5.0, metavar="S")
    publish_interval_seconds: float = _setting(
        "How often documents are written; every sample of the interval is kept.", 60.0, metavar="S"
    )
    hang_timeout_seconds: float | None = _setting(
        "Restart the monitor after this long without a valid report. Default: 3 periods + 5 s.",
        None,
        metavar="S",
    )
    startup_grace_seconds: float | None = _setting(
        "Time allowed from start to the first valid report. Default: max(30, hang timeout).",
        None,
        metavar="S",
    )
    stop_timeout_seconds: float = _setting(
        "Budget for a clean stop on SIGTERM (keep it under ECS stopTimeout, 30 s by default).",
        20.0,
        metavar="S",
    )
    backoff_floor_seconds: float = _setting("Shortest wait before a restart.", 1.0, metavar="S")
    backoff_cap_seconds: float = _setting("Longest wait before a restart.", 60.0, metavar="S")
    profile: str = _setting("Metric set: minimal, standard or full.", "standard", metavar="NAME")
    include_metrics: tuple[str, ...] = _setting(
        "Comma-separated metrics to publish in addition to the profile.", (), metavar="NAMES"
    )
    exclude_metrics: tuple[str, ...] = _setting(
        "Comma-separated metrics not to publish.", (), metavar="NAMES"
    )
    dimensions: tuple[tuple[str, ...], ...] = _setting(
        "Base dimension sets: names joined by ',', sets by ';'. Default: ClusterName,ServiceName "
        "(or ClusterName,TaskFamily outside a service) on ECS, else InstanceId.",
        (),
        metavar="SETS",
    )
    high_resolution: bool = _setting(
        "Publish with StorageResolution 1 (1-second metrics; alarms on them cost more).",
        False,
        metavar="BOOL",
    )
    sparse_counters: bool = _setting(
        "Omit counters that are zero for the whole interval (fewer bytes; gaps in graphs).",
        False,
        metavar="BOOL",
    )
    runtime_tag_pattern: str | None = _setting(
        "Regex: runtimes whose NEURON_PROCESS_TAG fully matches get their own RuntimeTag metrics.",
        None,
        metavar="REGEX",
    )
    max_runtime_tags: int = _setting(
        "Cardinality cap: at most this many distinct runtime tags ever get metrics.",
        10,
        metavar="N",
    )
    sink: str = _setting(
        "Where documents go: stdout, or the CloudWatch agent's EMF endpoint as tcp://HOST:PORT "
        "or udp://HOST:PORT (port 25888 by default).",
        "stdout",
        metavar="URL",
    )
    max_line_bytes: int = _setting(
        "Longest accepted report line; longer lines are dropped and counted.",
        4 * 1024 * 1024,
        metavar="BYTES",
    )
    log_level: str = _setting("Diagnostics level on stderr.", "INFO", metavar="LEVEL")

    @property
    def hang_timeout(self) -> float:
        """The effective hang timeout (explicit, or 3 periods plus a margin)."""
        if self.hang_timeout_seconds is not None:
            return self.hang_timeout_seconds
        return 3 * self.period_seconds + _HANG_MARGIN_SECONDS

    @property
    def startup_grace(self) -> float:
        """The effective start-up grace."""
        if self.startup_grace_seconds is not None:
            return self.startup_grace_seconds
        return max(30.0, self.hang_timeout)

    @property
    def metrics(self) -> frozenset[str]:
        """Names of the metrics this configuration publishes."""
        selected = PROFILES[self.profile] | set(self.include_metrics)
        return frozenset(selected - set(self.exclude_metrics))


def env_name(name: str) -> str:
    """``hang_timeout_seconds`` -> ``EMF_NEURON_HANG_TIMEOUT_SECONDS``."""
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    """``hang_timeout_seconds`` -> ``--hang-timeout-seconds``."""
    return "--" + name.replace("_", "-")


SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Settings))


def load_settings(
    flags: Mapping[str, str | None],
    environ: Mapping[str, str],
    file_values: Mapping[str, object] | None = None,
) -> Settings:
    """Resolve every setting (flag > env > file > default), convert and validate.

    Raises:
        ConfigError: a value cannot be converted, a name is unknown, or settings contradict.
    """
    unknown = set(file_values or {}) - set(SETTING_NAMES)
    if unknown:
        raise ConfigError(f"unknown setting in config file: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name in SETTING_NAMES:
        raw = _pick(name, flags, environ, file_values or {})
        if raw is not None:
            values[name] = _convert(name, raw)
    settings = Settings(**values)
    _validate(settings)
    return settings


def _pick(
    name: str,
    flags: Mapping[str, str | None],
    environ: Mapping[str, str],
    file: Mapping[str, object],
) -> object:
    if flags.get(name) is not None:
        return flags[name]
    if env_name(name) in environ:
        return environ[env_name(name)]
    return file.get(name)


def _convert(name: str, raw: object) -> object:
    converter = CONVERTERS.get(name, text)
    try:
        return converter(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{flag_name(name)}: {exc}") from None


def _validate(settings: Settings) -> None:
    checks: tuple[tuple[bool, str], ...] = (
        (
            bool(_NAMESPACE.fullmatch(settings.namespace)),
            "--namespace: use 1-256 of [A-Za-z0-9._#:/-]",
        ),
        (settings.input in (None, "-"), "--input: only '-' (stdin) is supported"),
        (settings.profile in PROFILES, f"--profile: choose one of {', '.join(PROFILES)}"),
        (
            settings.period_seconds >= MIN_PERIOD_SECONDS,
            f"--period-seconds must be at least {MIN_PERIOD_SECONDS} (neuron-monitor counts in ms)",
        ),
        (
            settings.hang_timeout >= 2 * settings.period_seconds,
            "--hang-timeout-seconds must be at least 2 periods (--period-seconds)",
        ),
        (
            settings.publish_interval_seconds >= settings.period_seconds,
            "--publish-interval-seconds must be at least one period",
        ),
        (
            settings.backoff_cap_seconds >= settings.backoff_floor_seconds,
            "--backoff-cap-seconds must be at least --backoff-floor-seconds",
        ),
        (
            all(0 < len(names) <= 29 for names in settings.dimensions),
            "--dimensions: 1 to 29 names per set (NeuronCore is added per core)",
        ),
        (
            not (odd := {d for names in settings.dimensions for d in names} - KNOWN_DIMENSIONS),
            f"--dimensions: unknown {', '.join(sorted(odd))}; "
            f"known: {', '.join(sorted(KNOWN_DIMENSIONS))}",
        ),
        (
            not (unknown := set(settings.include_metrics + settings.exclude_metrics) - set(SPECS)),
            f"--include-metrics/--exclude-metrics: unknown {', '.join(sorted(unknown))} "
            "(see README, Metrics)",
        ),
        (
            settings.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"},
            "--log-level: DEBUG, INFO, WARNING or ERROR",
        ),
        (settings.max_line_bytes >= 1024, "--max-line-bytes must be at least 1024"),
    )
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
