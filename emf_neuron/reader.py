"""Typed access to one decoded report: numbers, labels and metric groups, each rejection counted.

Pure, no I/O. ``parse`` walks the report's sections with a ``Reader``; every value that is the
wrong type, a boolean, not finite, negative, out of CloudWatch's range, or a string that is not
short printable ASCII is dropped here and counted in ``Reader.rejected``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emf_neuron.catalogue import MAX_ABS_VALUE

MAX_TEXT_LENGTH = 256
MAX_INDEX = 1024  # NeuronCores and devices per host: a trn2u.48xlarge has 128 physical cores
_LABELS: dict[str, bool] = {}  # memo of clean_text: core and category keys repeat every report
_LABEL_MEMO_SIZE = 4096
_ENVELOPE = frozenset({"period", "error"})  # every metric group carries these two


def clean_text(value: object) -> str | None:
    """Return ``value`` if it is a usable label (1..256 printable ASCII, not blank), else None."""
    if type(value) is not str:
        return None
    known = _LABELS.get(value)
    if known is not None:
        return value if known else None
    # For ASCII, isprintable() is exactly " " to "~"; both checks run in C (a hot path).
    ok = len(value) <= MAX_TEXT_LENGTH and bool(value.strip()) and value.isascii()
    ok = ok and value.isprintable()
    if len(_LABELS) >= _LABEL_MEMO_SIZE:  # bounded: a hostile child cannot grow it
        _LABELS.clear()
    _LABELS[value] = ok
    return value if ok else None


def core_index(key: object) -> str | None:
    """A NeuronCore key becomes a dimension value: only small decimal indices, so a hostile or
    broken monitor cannot mint thousands of custom metrics."""
    if type(key) is str and key.isascii() and key.isdigit() and int(key) < MAX_INDEX:
        return key
    return None


def as_object(value: object) -> dict[str, Any] | None:
    """``value`` if it is a JSON object, else None."""
    return value if isinstance(value, dict) else None


class Reader:
    """Reads one decoded report, counting every value it has to reject."""

    def __init__(self) -> None:
        self.rejected = 0
        self.group_errors: list[str] = []
        self.ok_sections = 0
        self.periods: list[float] = []

    def number(self, obj: Mapping[str, Any], key: str) -> float | None:
        """A finite, non-negative, in-range number (never a bool), or None (counted if present)."""
        value = obj.get(key)
        if value is None:
            return None
        # Exact types: a bool is not a number here. NaN fails both comparisons, inf the upper one.
        kind = type(value)
        if (kind is float or kind is int) and 0 <= value <= MAX_ABS_VALUE:
            return float(value)
        self.rejected += 1
        return None

    def numbers(self, value: object) -> dict[str, float]:
        """An open map of name -> number; bad entries are dropped and counted."""
        obj = as_object(value)
        if obj is None:
            return {}
        out: dict[str, float] = {}
        for key in obj:
            if key in _ENVELOPE:
                continue
            if clean_text(key) is None:
                self.rejected += 1
                continue
            number = self.number(obj, key)
            if number is not None:
                out[key] = number
        return out

    def text(self, obj: Mapping[str, Any], key: str) -> str | None:
        value = obj.get(key)
        if value is None or value == "":
            return None
        cleaned = clean_text(value)
        if cleaned is None:
            self.rejected += 1
        return cleaned

    def group(self, value: object, name: str) -> dict[str, Any] | None:
        """A metric group with an empty ``error``; a group with an error is recorded and skipped."""
        obj = as_object(value)
        if obj is None:
            return None
        error = obj.get("error")
        if isinstance(error, str) and error:
            self.group_errors.append(name)
            return None
        if obj.keys() - _ENVELOPE:  # an empty section carries no data: not a heartbeat
            self.ok_sections += 1
        period = obj.get("period")
        if isinstance(period, int | float) and not isinstance(period, bool) and 0 < period < 86400:
            self.periods.append(float(period))
        elif period is not None:
            self.rejected += 1
        return obj
