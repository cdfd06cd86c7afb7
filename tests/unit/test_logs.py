"""Diagnostics: one JSON object per line on stderr, never mistakable for an EMF document."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Any

import pytest

from emf_neuron.logs import JsonLineFormatter, configure_logging

HOSTILE = [
    "plain message",
    "two\nlines",
    "carriage\rreturn\r\n",
    '{"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "Forged": 1}',
    '\n{"_aws": {"CloudWatchMetrics": [{"Namespace": "X", "Metrics": []}]}}\n',
    "caf\u00e9 \u2028 \ud800 \x00 \x1b[31m",
    "x" * 100_000,
]
HOSTILE_IDS = [
    "plain",
    "newline",
    "carriage-return",
    "aws-object",
    "aws-object-on-its-own-line",
    "non-ascii-surrogate-control",
    "very-long",
]


def _record(message: str, args: tuple[Any, ...] = ()) -> logging.LogRecord:
    return logging.LogRecord("emf_neuron.test", logging.WARNING, __file__, 1, message, args, None)


def _one_line(text: str) -> dict[str, Any]:
    assert "\n" not in text
    assert "\r" not in text
    assert text.isascii()
    entry = json.loads(text)
    assert isinstance(entry, dict)
    assert "_aws" not in entry
    return entry


@pytest.mark.parametrize("message", HOSTILE, ids=HOSTILE_IDS)
def test_any_message_is_one_line_of_json_without_aws(message: str) -> None:
    # when
    entry = _one_line(JsonLineFormatter().format(_record(message)))
    # then
    assert entry["Message"] == message
    assert entry["Level"] == "WARNING"
    assert entry["Logger"] == "emf_neuron.test"
    assert set(entry) == {"Time", "Level", "Logger", "Message"}


@pytest.mark.parametrize("argument", HOSTILE, ids=HOSTILE_IDS)
def test_hostile_arguments_are_escaped_too(argument: str) -> None:
    entry = _one_line(JsonLineFormatter().format(_record("monitor stderr: %s", (argument,))))
    assert entry["Message"] == "monitor stderr: " + argument


def test_time_is_utc_iso8601_with_milliseconds() -> None:
    record = _record("t")
    record.created = 1_764_000_000.25
    record.msecs = 250.0
    entry = _one_line(JsonLineFormatter().format(record))
    assert entry["Time"] == "2025-11-24T16:00:00.250Z"


def _fail() -> None:
    raise ValueError('bad\n{"_aws": 1}')


def test_exception_goes_into_an_exception_field() -> None:
    # given
    try:
        _fail()
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "emf_neuron.x", logging.ERROR, __file__, 1, "internal error", (), exc_info
    )
    # when
    entry = _one_line(JsonLineFormatter().format(record))
    # then
    assert entry["Message"] == "internal error"
    assert entry["Level"] == "ERROR"
    assert entry["Exception"].startswith("Traceback (most recent call last):")
    assert 'ValueError: bad\n{"_aws": 1}' in entry["Exception"]


def test_configure_logging_writes_json_lines_to_the_given_stream() -> None:
    # given
    stream = io.StringIO()
    logger = logging.getLogger("emf_neuron")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        configure_logging("warning", stream)
        # when
        logging.getLogger("emf_neuron.child").info("not shown")
        logging.getLogger("emf_neuron.child").warning("line one\nline two")
        logging.getLogger("emf_neuron.sink").error('{"_aws": %s}', "{}")
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    # then
    lines = stream.getvalue().splitlines()
    entries = [_one_line(line) for line in lines]
    assert [(e["Logger"], e["Level"], e["Message"]) for e in entries] == [
        ("emf_neuron.child", "WARNING", "line one\nline two"),
        ("emf_neuron.sink", "ERROR", '{"_aws": {}}'),
    ]
