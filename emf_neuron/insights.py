"""The Logs Insights query pack and ``emf-neuron insights``: list the queries, or run one.

Owns the query file format (``emf_neuron/queries/*.logsinsights``: ``# name:``, ``# description:``
and ``# version:`` lines, free ``#`` notes, then the query) and the StartQuery/GetQueryResults
loop. Results go to stdout (a table or ``--json``); progress and messages go to stderr. It must
not import boto3 (``aws_client`` does, lazily, at run time) and holds no metric names: those are
in the query files, which tests check against real output.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Protocol, TextIO

from emf_neuron import aws_client
from emf_neuron.aws_client import CommandError, text

QUERY_SUFFIX = ".logsinsights"
HEADER_KEYS = ("name", "description", "version")
DONE = frozenset({"Complete", "Failed", "Cancelled", "Timeout", "Unknown"})
_DURATION = re.compile(r"([1-9][0-9]{0,6})([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_MAX_POLL_SECONDS = 2.0
_MAX_DOTS = 60
_HIDDEN = frozenset({"", "@ptr"})


@dataclass(frozen=True, slots=True)
class Query:
    """One query of the pack: its header and the query text (comments removed)."""

    name: str
    description: str
    version: str
    text: str


class LogsApi(Protocol):
    """The part of the boto3 ``logs`` client this module uses."""

    def start_query(self, **kwargs: object) -> Mapping[str, object]: ...
    def get_query_results(self, **kwargs: object) -> Mapping[str, object]: ...
    def stop_query(self, **kwargs: object) -> Mapping[str, object]: ...


def parse_query(source: str, origin: str) -> Query:
    """A query from the text of a query file.

    Raises:
        ValueError: a header key or the query itself is missing.
    """
    header: dict[str, str] = {}
    body: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            key, colon, value = stripped[1:].partition(":")
            if not body and colon and key.strip() in HEADER_KEYS:
                header.setdefault(key.strip(), value.strip())
        elif stripped:
            body.append(line.rstrip())
    missing = [key for key in HEADER_KEYS if not header.get(key)] + ([] if body else ["query"])
    if missing:
        raise ValueError(f"{origin}: no {', '.join(missing)}")
    return Query(header["name"], header["description"], header["version"], "\n".join(body))


def packaged_queries() -> tuple[Query, ...]:
    """Every query shipped in ``emf_neuron/queries``, by name."""
    folder = resources.files("emf_neuron") / "queries"
    found = [
        parse_query(entry.read_text(encoding="utf-8"), entry.name)
        for entry in folder.iterdir()
        if entry.name.endswith(QUERY_SUFFIX)
    ]
    return tuple(sorted(found, key=lambda query: query.name))


def find_query(name: str) -> Query:
    """The packaged query called ``name``.

    Raises:
        CommandError: there is none (EX_USAGE).
    """
    for query in packaged_queries():
        if query.name == name:
            return query
    raise CommandError(f"no query {name!r} (see emf-neuron insights --list)", aws_client.EXIT_USAGE)


def parse_duration(value: str) -> int:
    """``90s``, ``30m``, ``1h``, ``7d``, ``2w`` as seconds (an argparse ``type``)."""
    match = _DURATION.fullmatch(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration like 30m, 1h or 7d")
    return int(match[1]) * _SECONDS[match[2]]


def add_insights_parser(subparsers: argparse._SubParsersAction[aws_client.ParserT]) -> None:
    """The ``insights`` subcommand and its flags."""
    parser = subparsers.add_parser(
        "insights",
        help="run a packaged CloudWatch Logs Insights query over the sidecar's logs",
        description="Run a query of the pack (see --list) over the log groups the sidecar's "
        "stdout goes to. Progress goes to stderr, results to stdout.",
    )
    parser.add_argument("query", nargs="?", metavar="QUERY", help="a query name from --list")
    parser.add_argument("--list", action="store_true", help="list the queries and exit")
    parser.add_argument(
        "--log-group", action="append", metavar="G", help="log group to query (repeatable)"
    )
    parser.add_argument(
        "--since", type=parse_duration, default=3600, metavar="D", help="e.g. 30m, 1h (default), 7d"
    )
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON array")
    parser.add_argument(
        "--timeout-seconds", type=float, default=900.0, metavar="S", help="stop waiting after S"
    )
    aws_client.add_aws_arguments(parser)


def run_insights(args: argparse.Namespace) -> int:
    """Run ``emf-neuron insights``; returns the exit code (see ``aws_client``)."""
    return aws_client.guarded("insights", lambda: _insights(args))


def _insights(args: argparse.Namespace) -> int:
    if args.list:
        listing = [
            {"QUERY": q.name, "VERSION": q.version, "DESCRIPTION": q.description}
            for q in packaged_queries()
        ]
        sys.stdout.write(format_table(listing))
        return aws_client.EXIT_OK
    if not args.query:
        raise CommandError("name a QUERY (see emf-neuron insights --list)", aws_client.EXIT_USAGE)
    if not args.log_group:
        raise CommandError("--log-group is required", aws_client.EXIT_USAGE)
    query = find_query(args.query)
    region = aws_client.resolve_region(args.region)
    logs: LogsApi = aws_client.client("logs", region, args.endpoint_url)
    response = run_query(logs, query, args.log_group, args.since, args.timeout_seconds)
    rows = result_rows(response)
    sys.stdout.write(json.dumps(rows, indent=2) + "\n" if args.json else format_table(rows))
    return aws_client.EXIT_OK


def run_query(
    logs: LogsApi, query: Query, groups: Sequence[str], since: int, timeout: float
) -> Mapping[str, object]:
    """Start ``query`` over the last ``since`` seconds and wait for its results.

    Raises:
        CommandError: it ended other than Complete, ran past ``timeout``, or was interrupted.
    """
    end = int(time.time())
    started = logs.start_query(
        logGroupNames=list(groups), startTime=end - since, endTime=end, queryString=query.text
    )
    query_id = text(started, "queryId")
    progress = Progress(query.name, sys.stderr)
    try:
        response = _wait(logs, query_id, progress, time.monotonic() + timeout)
    except KeyboardInterrupt:
        progress.finish("interrupted")
        logs.stop_query(queryId=query_id)
        raise CommandError(
            "interrupted; the query was stopped", aws_client.EXIT_INTERRUPTED
        ) from None
    except BaseException:
        progress.finish("failed")  # end the progress line before the error line
        raise
    status = text(response, "status", "Unknown")
    progress.finish(f"{status}{_statistics(response)}")
    if status != "Complete":
        raise CommandError(f"query {query.name} ended {status}", aws_client.EXIT_FAILED)
    return response


def _wait(
    logs: LogsApi, query_id: str, progress: Progress, deadline: float
) -> Mapping[str, object]:
    delay = 0.25
    while True:
        response = logs.get_query_results(queryId=query_id)
        status = text(response, "status", "Unknown")
        if status in DONE:
            return response
        progress.update()
        if time.monotonic() + delay > deadline:
            progress.finish("stopped")
            logs.stop_query(queryId=query_id)
            raise CommandError("query timed out (--timeout-seconds)", aws_client.EXIT_TEMPFAIL)
        time.sleep(delay)
        delay = min(delay * 2, _MAX_POLL_SECONDS)


def _statistics(response: Mapping[str, object]) -> str:
    stats = response.get("statistics")
    if not isinstance(stats, Mapping):
        return ""
    matched, scanned = stats.get("recordsMatched"), stats.get("recordsScanned")
    if not isinstance(matched, int | float) or not isinstance(scanned, int | float):
        return ""
    return f", {int(matched):,} records matched of {int(scanned):,} scanned"


class Progress:
    """Progress on stderr: the query's name, a dot per poll (at most 60), then the outcome."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._dots = 0
        self._done = False
        self._write(f"emf-neuron: {label}: running.")

    def update(self) -> None:
        """One more dot."""
        if self._dots < _MAX_DOTS:
            self._dots += 1
            self._write(".")

    def finish(self, outcome: str) -> None:
        """End the line with the outcome and the time taken (once; later calls do nothing)."""
        if not self._done:
            self._done = True
            self._write(f" {outcome} ({time.monotonic() - self._started:.1f} s)\n")

    def _write(self, chunk: str) -> None:
        self._stream.write(chunk)
        self._stream.flush()


def result_rows(response: Mapping[str, object]) -> list[dict[str, str]]:
    """The result rows as field -> value (``@ptr``, a record pointer, left out)."""
    results = response.get("results")
    rows = [_row(result) for result in (results if isinstance(results, list) else [])]
    return [row for row in rows if row]


def _row(result: object) -> dict[str, str]:
    cells = [c for c in result if isinstance(c, Mapping)] if isinstance(result, list) else []
    return {text(c, "field"): text(c, "value") for c in cells if text(c, "field") not in _HIDDEN}


def format_table(rows: Sequence[Mapping[str, str]]) -> str:
    """Rows as an aligned text table (numbers right-aligned), or ``(no results)``."""
    if not rows:
        return "(no results)\n"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[" ".join(row.get(c, "").split()) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(_NUMBER.fullmatch(r[i]) or not r[i] for r in cells) for i in range(len(columns))]
    lines = [columns, ["-" * width for width in widths], *cells]
    return "".join(
        "  ".join(
            cell.rjust(width) if right and n > 1 else cell.ljust(width)
            for cell, width, right in zip(line, widths, numeric, strict=True)
        ).rstrip()
        + "\n"
        for n, line in enumerate(lines)
    )
