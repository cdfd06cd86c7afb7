"""The boundary to AWS for the operator commands (insights, dashboard, alarms); never the sidecar.

Owns the lazy ``boto3`` import, the region, the flags every command shares, and turning AWS
failures into one stderr line and an exit code. It must not import boto3 or botocore at module
import time (the sidecar imports the CLI, and boto3 is only in the ``emf-neuron[aws]`` extra), and
it never prints a traceback for an expected failure.

Exit codes of the AWS commands:
  0  done (a dry run printed what it would do)
  1  AWS refused a request (its error code is on stderr), or a query ended Failed/Cancelled/Timeout
  64 bad usage (a flag value that cannot be used)
  69 boto3 is not installed (``pip install 'emf-neuron[aws]'``)
  75 AWS could not be reached, or a query ran past ``--timeout-seconds``
  77 no AWS credentials were found
  78 no region: pass ``--region`` or set ``AWS_REGION``
  130 interrupted (Ctrl-C); a running query is stopped first
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from emf_neuron import logs

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = os.EX_USAGE
EXIT_UNAVAILABLE = os.EX_UNAVAILABLE
EXIT_TEMPFAIL = os.EX_TEMPFAIL
EXIT_NOPERM = os.EX_NOPERM
EXIT_CONFIG = os.EX_CONFIG
EXIT_INTERRUPTED = 130
NEEDS_BOTO3 = "this command needs boto3: pip install 'emf-neuron[aws]'"
DEFAULT_NAMESPACE = "NeuronMonitor"
_UNREACHABLE = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError")
_MISSING_MODULES = {"boto3", "botocore"}
ParserT = TypeVar("ParserT", bound=argparse.ArgumentParser)  # cli's own parser class, or argparse's


class CommandError(Exception):
    """An expected failure of an AWS command: one line for the operator and the exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


say = logs.say  # the one plain stderr line of every emf-neuron command


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every AWS command shares: ``--region`` and ``--endpoint-url``."""
    parser.add_argument(
        "--region", metavar="R", help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION)."
    )
    parser.add_argument(
        "--endpoint-url", metavar="URL", help="Send requests to URL (a local test server)."
    )


def resolve_region(flag: str | None, environ: Mapping[str, str] | None = None) -> str:
    """``--region``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``.

    Raises:
        CommandError: none of them is set (EX_CONFIG).
    """
    env = os.environ if environ is None else environ
    region = flag or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise CommandError("no AWS region: pass --region or set AWS_REGION", EXIT_CONFIG)
    return region


def client(service: str, region: str, endpoint_url: str | None) -> Any:  # noqa: ANN401
    """A boto3 client; ``Any`` stops here: callers assign it to a ``Protocol`` of what they use.

    Raises:
        ModuleNotFoundError: boto3 is not installed (``guarded`` turns it into exit code 69).
    """
    import boto3  # noqa: PLC0415 - lazy on purpose: an optional extra, never on the sidecar path

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url)


def guarded(command: str, action: Callable[[], int]) -> int:
    """Run ``action``; an expected failure becomes one stderr line and its exit code."""
    try:
        return action()
    except CommandError as exc:
        say(f"{command}: {exc}")
        return exc.exit_code
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in _MISSING_MODULES:
            raise
        say(NEEDS_BOTO3)
        return EXIT_UNAVAILABLE
    except _botocore_errors() as exc:
        say(f"{command}: {exc}")
        return _exit_code(exc)


def _botocore_errors() -> tuple[type[Exception], ...]:
    """botocore's error bases, if botocore is loaded (an AWS error implies it is); else nothing."""
    module = sys.modules.get("botocore.exceptions")
    if module is None:
        return ()
    return (module.ClientError, module.BotoCoreError)


def _exit_code(exc: Exception) -> int:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "NoCredentialsError" in names:
        return EXIT_NOPERM
    if names.intersection(_UNREACHABLE):
        return EXIT_TEMPFAIL
    return EXIT_FAILED


def text(response: Mapping[str, object], key: str, default: str = "") -> str:
    """A string field of an AWS response (``default`` when it is missing or not a string)."""
    value = response.get(key)
    return value if isinstance(value, str) else default


def records(response: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    """A list-of-objects field of an AWS response; anything else is skipped."""
    value = response.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]
