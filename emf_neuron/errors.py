"""The exception hierarchy and the process exit codes; nothing here does I/O.

Per-report problems are data (counted and skipped), not exceptions that reach the loop; only the
classes below cross module boundaries, and only ``cli.main`` turns them into exit codes.
"""

from __future__ import annotations

import os

EXIT_OK = 0
EXIT_USAGE = os.EX_USAGE  # 64: a flag or argument that cannot be parsed
EXIT_SOFTWARE = os.EX_SOFTWARE  # 70: a bug in emf-neuron (logged with a traceback, once)
EXIT_CANTCREAT = os.EX_CANTCREAT  # 73: no writable temp dir for the generated monitor config
EXIT_IOERR = os.EX_IOERR  # 74: stdout (the only place metrics go) is closed
EXIT_TEMPFAIL = os.EX_TEMPFAIL  # 75: the child could not be killed; let ECS replace the container
EXIT_CONFIG = os.EX_CONFIG  # 78: a setting is invalid


class EmfNeuronError(Exception):
    """Base of every error emf-neuron raises on purpose."""


class ConfigError(EmfNeuronError):
    """A setting is missing, malformed or inconsistent; the message is one line for the operator."""


class UsageError(EmfNeuronError):
    """A flag argparse cannot parse; reported as one line and EX_USAGE instead of exit 2."""


class ReportError(EmfNeuronError, ValueError):
    """A line from neuron-monitor is not a usable report (not JSON, not an object, too deep)."""


class SinkClosedError(EmfNeuronError):
    """The metrics destination is gone (EPIPE on stdout); there is nowhere left to write."""


class HaltError(EmfNeuronError):
    """Stop the sidecar with ``exit_code``; raised by the loop, returned as the exit code by cli."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.exit_code = exit_code
