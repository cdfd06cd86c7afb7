"""The syntax of setting values: text from a flag, an env var or a config file -> typed value.

Pure functions; each raises ``ValueError``/``TypeError`` with a message for the operator, which
``config`` prefixes with the flag name.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable


def seconds(raw: object) -> float:
    value = float(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) else None
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f"expected a positive number of seconds, got {raw!r}")
    return value


def positive_int(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TypeError(f"expected a whole number, got {raw!r}")
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {raw!r}")
    return value


def text(raw: object) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"expected a string, got {raw!r}")
    return raw


def command(raw: object) -> tuple[str, ...]:
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        return tuple(raw)
    return tuple(shlex.split(text(raw)))


def names(raw: object) -> tuple[str, ...]:
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        return tuple(raw)
    return tuple(part.strip() for part in text(raw).split(",") if part.strip())


def sets(raw: object) -> tuple[tuple[str, ...], ...]:
    if isinstance(raw, list) and all(isinstance(part, list | str) for part in raw):
        return tuple(names(part) for part in raw)
    return tuple(found for part in text(raw).split(";") if (found := names(part)))


def boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    word = text(raw).strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def pattern(raw: object) -> str:
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
}
