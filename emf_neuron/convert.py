"""The syntax of setting values: text from a flag, an env var or a config file -> typed value.

Pure functions; each raises ``ValueError``/``TypeError`` with a message for the operator, which
``config`` prefixes with the flag name.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable
from urllib.parse import urlsplit

MAX_SECONDS = 86400.0  # a day: longer is a typo, and threading waits overflow far above it
AGENT_PORT = 25888  # the CloudWatch agent's EMF listener (logs.metrics_collected.emf)


def seconds(raw: object) -> float:
    """A duration: a positive number of seconds, at most a day."""
    value = float(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) else None
    if value is None or not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise ValueError(f"expected seconds, more than 0 and at most {MAX_SECONDS:g}, got {raw!r}")
    return value


def positive_int(raw: object) -> int:
    """A whole number above zero."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TypeError(f"expected a whole number, got {raw!r}")
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {raw!r}")
    return value


def text(raw: object) -> str:
    """A string."""
    if not isinstance(raw, str):
        raise TypeError(f"expected a string, got {raw!r}")
    return raw


def sink_address(url: str) -> tuple[str, str, int] | None:
    """``stdout`` -> None; ``tcp://HOST[:PORT]``/``udp://...`` -> (scheme, host, port).

    Raises:
        ValueError: any other form.
    """
    if url == "stdout":
        return None
    try:
        parts = urlsplit(url)
        port = AGENT_PORT if parts.port is None else parts.port
    except ValueError:  # a bad port or a malformed IPv6 literal
        port, parts = -1, urlsplit("")
    if parts.scheme not in {"tcp", "udp"} or not parts.hostname or port <= 0 or parts.path:
        raise ValueError(f"use stdout, tcp://HOST:PORT or udp://HOST:PORT, not {url!r}")
    return parts.scheme, parts.hostname, port


def sink(raw: object) -> str:
    """A sink URL, checked."""
    url = text(raw)
    sink_address(url)
    return url


def command(raw: object) -> tuple[str, ...]:
    """A command line: a list of strings, or one shell-quoted string."""
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        argv = tuple(raw)
    else:
        argv = tuple(shlex.split(text(raw)))
    if not argv or not argv[0] or any("\0" in part for part in argv):
        raise ValueError("expected a command line with a program and no NUL characters")
    return argv


def names(raw: object) -> tuple[str, ...]:
    """Comma-separated names (or a list of strings)."""
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        return tuple(raw)
    return tuple(part.strip() for part in text(raw).split(",") if part.strip())


def sets(raw: object) -> tuple[tuple[str, ...], ...]:
    """Dimension sets: names joined by ',', sets by ';' (or a list of lists)."""
    if isinstance(raw, list) and all(isinstance(part, list | str) for part in raw):
        return tuple(names(part) for part in raw)
    return tuple(found for part in text(raw).split(";") if (found := names(part)))


def boolean(raw: object) -> bool:
    """true/false, yes/no, on/off, 1/0."""
    if isinstance(raw, bool):
        return raw
    word = text(raw).strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def pattern(raw: object) -> str:
    """A regular expression that compiles."""
    source = text(raw)
    try:
        re.compile(source)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return source


CONVERTERS: dict[str, Callable[[object], object]] = {
    "monitor_command": command,
    "period_seconds": seconds,
    "publish_interval_seconds": seconds,
    "hang_timeout_seconds": seconds,
    "startup_grace_seconds": seconds,
    "stop_timeout_seconds": seconds,
    "backoff_floor_seconds": seconds,
    "backoff_cap_seconds": seconds,
    "dimensions": sets,
    "include_metrics": names,
    "exclude_metrics": names,
    "high_resolution": boolean,
    "sparse_counters": boolean,
    "runtime_tag_pattern": pattern,
    "max_runtime_tags": positive_int,
    "max_line_bytes": positive_int,
    "sink": sink,
}
