"""Diagnostics on stderr, one JSON object per line; the only place logging handlers are set up.

JSON escaping keeps every record on one line whatever a message contains (a child's stderr, a
path with a newline), and no record has a top-level ``_aws`` key, so CloudWatch can never mistake
a diagnostic for an EMF document.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO


class JsonLineFormatter(logging.Formatter):
    """``{"Time", "Level", "Logger", "Message"[, "Exception"]}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one line of JSON."""
        entry = {
            "Time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "Level": record.levelname,
            "Logger": record.name,
            "Message": record.getMessage(),
        }
        if record.exc_info:
            entry["Exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=True)


def say(message: str) -> None:
    """One plain line on stderr for the operator (usage and configuration errors, before logging
    is configured, and the AWS commands' results); whitespace is folded so it stays one line."""
    sys.stderr.write(f"emf-neuron: {' '.join(message.split())}\n")
    sys.stderr.flush()


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every ``emf_neuron`` record at ``level`` or above to stderr, one JSON line each."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger("emf_neuron")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
