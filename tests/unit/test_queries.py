"""The Logs Insights query pack: well-formed files, and only names the pipeline really emits.

"Emitted" is read from real output: every root key and metric name of the golden documents, the
catalogue, and documents rendered by the real interval/EMF code in states the recorded samples do
not reach (a monitor that exited, a task on ECS).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from support import EXPECTED, REPO

from emf_neuron import aws_client
from emf_neuron.aws_client import CommandError
from emf_neuron.catalogue import CATALOGUE
from emf_neuron.ecs import parse_task
from emf_neuron.emf import render
from emf_neuron.insights import (
    HEADER_KEYS,
    Query,
    find_query,
    format_table,
    packaged_queries,
    parse_duration,
    parse_query,
    result_rows,
    run_query,
)
from emf_neuron.interval import Health, Interval, Layout
from emf_neuron.mapping import Sample
from emf_neuron.report import Report

QUERY_FILES = sorted((REPO / "emf_neuron" / "queries").glob("*.logsinsights"))
SYSTEM_FIELDS = {"@timestamp", "@message", "@logStream", "@log"}
KEYWORDS = {"filter", "fields", "stats", "sort", "limit", "parse", "by", "as", "and", "or", "not"}
KEYWORDS |= {"asc", "desc", "in", "like", "display", "dedup"}
ECS = REPO / "tests" / "data" / "ecs"


def emitted_names() -> set[str]:
    """Every metric name and root key the pipeline writes (``_aws`` excluded)."""
    names = {spec.name for spec in CATALOGUE}
    lines = _rendered_in_rare_states()
    for path in EXPECTED.glob("*.emf.jsonl"):
        lines += path.read_bytes().splitlines()
    for line in lines:
        doc = json.loads(line)
        names.update(_flattened(doc))
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            names.update(metric["Name"] for metric in directive["Metrics"])
    names.discard("_aws")
    return names


def _flattened(doc: dict[str, object], prefix: str = "") -> set[str]:
    """Root keys, plus nested ones as dotted names (Logs Insights flattens JSON objects so)."""
    names = set()
    for key, value in doc.items():
        names.add(prefix + key)
        if isinstance(value, dict) and key != "_aws":
            names |= _flattened(value, f"{prefix}{key}.")
    return names


def _rendered_in_rare_states() -> list[bytes]:
    """Documents of a task on ECS whose monitor exited and dropped output lines."""
    task = json.loads((ECS / "task-service.json").read_text(encoding="utf-8"))
    container = json.loads((ECS / "container.json").read_text(encoding="utf-8"))
    layout = Layout(
        ("ClusterName", "ServiceName"), static_labels=parse_task(task, container).labels
    )
    interval = Interval()
    interval.add(Report(), [Sample("NeuronCoreUtilization", 1.0, core="0")])
    health = Health(
        up=False,
        restarts=1,
        report_age_seconds=9.0,
        report_errors=0,
        last_exit="exited with code 1",
        output_dropped=2,
    )
    docs = interval.documents(layout, health)
    return [line for doc in docs for line in render(doc, "NeuronMonitor", 0).lines]


def field_references(query: Query) -> tuple[set[str], set[str]]:
    """(fields the query reads, names it defines with ``as`` or a named regex group)."""
    body = query.text
    defined = set(re.findall(r"\bas\s+([A-Za-z_]\w*)", body))
    defined |= set(re.findall(r"\(\?<([A-Za-z_]\w*)>", body))
    read: set[str] = set()
    for pattern in re.findall(r"(?:parse\s+@\w+|like)\s+(/(?:[^/\\]|\\.)+/)", body):
        read |= set(re.findall(r'"([A-Za-z]\w*)"', pattern))
        body = body.replace(pattern, " ")
    for match in re.finditer(r"(?<![\w.])(@?[A-Za-z_][\w.]*)(\s*\()?", body):
        name, call = match[1], match[2]
        if not call and name not in KEYWORDS:
            read.add(name)
    return read - defined, defined


def test_every_file_parses_with_its_header() -> None:
    assert QUERY_FILES, "no query files"
    for path in QUERY_FILES:
        query = parse_query(path.read_text(encoding="utf-8"), path.name)
        assert query.name == path.stem
        assert query.version.isdigit()
        assert len(query.description) <= 100
        assert "#" not in query.text  # notes stay out of what is sent


def test_the_pack_covers_the_questions() -> None:
    names = {query.name for query in packaged_queries()}
    assert names == {
        "busiest-tasks",
        "idlest-tasks",
        "idle-accelerators",
        "monitor-restarts",
        "errors-by-runtime-tag",
        "latency-p99",
        "memory-headroom",
    }


@pytest.mark.parametrize("path", QUERY_FILES, ids=[p.stem for p in QUERY_FILES])
def test_queries_read_only_emitted_names(path: Path) -> None:
    query = find_query(path.stem)
    read, defined = field_references(query)
    unknown = {name for name in read if name not in SYSTEM_FIELDS} - emitted_names()
    assert not unknown, f"{path.name} reads names the pipeline never writes: {sorted(unknown)}"
    assert not defined & emitted_names(), "an alias shadows a real field"


@pytest.mark.parametrize(
    ("query", "metric"),
    [
        ("busiest-tasks", "NeuronCoreUtilization"),
        ("idlest-tasks", "NeuronCoreUtilization"),
        ("idle-accelerators", "ExecutionsCompleted"),
        ("monitor-restarts", "MonitorRestarts"),
        ("monitor-restarts", "MonitorLastExit"),
        ("errors-by-runtime-tag", "ExecutionErrors"),
        ("errors-by-runtime-tag", "RuntimeTags"),
        ("latency-p99", "ExecutionLatencyP99"),
        ("memory-headroom", "NeuronCoreMemoryUsed"),
        ("memory-headroom", "NeuronCore"),
    ],
)
def test_each_query_reads_its_subject(query: str, metric: str) -> None:
    read = field_references(find_query(query))[0]
    assert metric in read or any(name.startswith(f"Summary.{metric}.") for name in read)


def test_the_reference_check_catches_a_misspelling() -> None:
    query = Query("x", "x", "1", "filter ispresent(NeuronCoreUtilisation) | stats avg(X) as Y")
    assert field_references(query) == ({"NeuronCoreUtilisation", "X"}, {"Y"})


def test_a_file_without_its_header_is_refused() -> None:
    with pytest.raises(ValueError, match="no version"):
        parse_query("# name: a\n# description: b\nfields @message\n", "a.logsinsights")
    with pytest.raises(ValueError, match="no query"):
        parse_query("\n".join(f"# {key}: v" for key in HEADER_KEYS), "b.logsinsights")


def test_header_keys_count_only_before_the_query() -> None:
    query = parse_query("# name: a\n# description: b\n# version: 2\nfields x\n# name: z\n", "a")
    assert (query.name, query.version, query.text) == ("a", "2", "fields x")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600), ("7d", 604800), ("2w", 1209600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0h", "1", "1y", "-1h", "1.5h", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="duration"):
        parse_duration(text)


def test_result_rows_drop_the_record_pointer() -> None:
    response = {
        "status": "Complete",
        "results": [
            [{"field": "Task", "value": "a"}, {"field": "Avg", "value": "41.5"}],
            [{"field": "@ptr", "value": "CmAKJw"}],
            "junk",
        ],
    }
    assert result_rows(response) == [{"Task": "a", "Avg": "41.5"}]


def test_table_aligns_and_right_aligns_numbers() -> None:
    rows = [{"Task": "abc", "Avg": "4.5"}, {"Task": "d", "Avg": "41.25", "Extra": "x\ny"}]
    assert format_table(rows) == (
        "Task  Avg    Extra\n"
        "----  -----  -----\n"
        "abc     4.5\n"
        "d     41.25  x y\n"
    )  # fmt: skip
    assert format_table([]) == "(no results)\n"


class ScriptedLogs:
    """A ``logs`` API answering GetQueryResults with the given statuses (the last one repeats)."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)
        self.calls: list[tuple[str, dict[str, object]]] = []

    def start_query(self, **kwargs: object) -> Mapping[str, object]:
        self.calls.append(("start_query", kwargs))
        return {"queryId": "q-1"}

    def get_query_results(self, **kwargs: object) -> Mapping[str, object]:
        self.calls.append(("get_query_results", kwargs))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        stats = {"recordsMatched": 2.0, "recordsScanned": 1234.0}
        return {"status": status, "statistics": stats, "results": []}

    def stop_query(self, **kwargs: object) -> Mapping[str, object]:
        self.calls.append(("stop_query", kwargs))
        return {"success": True}


QUERY = Query("q", "d", "1", "fields @message")


def test_run_query_polls_until_complete(capsys: pytest.CaptureFixture[str]) -> None:
    logs = ScriptedLogs("Scheduled", "Running", "Complete")
    response = run_query(logs, QUERY, ["/ecs/a", "/ecs/b"], 3600, timeout=30)
    assert response["status"] == "Complete"
    (name, start), *polls = logs.calls
    assert name == "start_query"
    assert start["logGroupNames"] == ["/ecs/a", "/ecs/b"]
    assert start["queryString"] == "fields @message"
    assert start["endTime"] == start["startTime"] + 3600  # type: ignore[operator]
    assert [call for call, _ in polls] == ["get_query_results"] * 3
    err = capsys.readouterr()
    assert err.out == ""
    assert err.err.startswith("emf-neuron: q: running...")
    assert err.err.endswith("\n")
    assert "Complete, 2 records matched of 1,234 scanned" in err.err


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout"])
def test_run_query_that_does_not_complete_fails(status: str) -> None:
    with pytest.raises(CommandError, match=f"ended {status}") as caught:
        run_query(ScriptedLogs(status), QUERY, ["g"], 60, timeout=30)
    assert caught.value.exit_code == aws_client.EXIT_FAILED


def test_run_query_stops_the_query_at_the_deadline(capsys: pytest.CaptureFixture[str]) -> None:
    logs = ScriptedLogs("Running")
    with pytest.raises(CommandError, match="timed out") as caught:
        run_query(logs, QUERY, ["g"], 60, timeout=0)
    assert caught.value.exit_code == aws_client.EXIT_TEMPFAIL
    assert logs.calls[-1] == ("stop_query", {"queryId": "q-1"})
    assert capsys.readouterr().err.endswith(" stopped (0.0 s)\n")
