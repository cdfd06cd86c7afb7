"""parse_report: one untrusted line in, one Report out (J1-J10 and P6 of the fault table).

Each table row names the bad input in its id. A bad value is substituted at one slot (U, C, L, H,
E, P) of an otherwise healthy report, so a row can only pass if that one value is handled as
expected.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import REPORTS

from emf_neuron.catalogue import MAX_ABS_VALUE
from emf_neuron.errors import ReportError
from emf_neuron.mapping import SPECS, map_report
from emf_neuron.parse import clean_text, parse_report
from emf_neuron.report import Report

ALL_METRICS = frozenset(SPECS)

# One healthy 2.x report; every location below puts the value under test at one place in it.
_RUNTIME = (
    '{"pid": 7, "neuron_runtime_tag": "svc", "error": "", "report": {'
    '"neuroncore_counters": {"period": 5, "error": "", "neuroncores_in_use": '
    '{"0": {"neuroncore_utilization": U}}},'
    '"execution_stats": {"period": 5, "error": "", "error_summary": {"generic": 0},'
    '"execution_summary": {"completed": C},'
    '"latency_stats": {"total_latency": {"p50": L, "p99": 0.5}, "device_latency": null}},'
    '"memory_used": {"period": 5, "error": "", "neuron_runtime_used_bytes": {"host": H,'
    '"neuron_device": 100, "usage_breakdown": {"host": {}, "neuroncore_memory_usage": {}}}}}}'
)
_SYSTEM = (
    '"system_data": {"neuron_hw_counters": {"period": 5, "error": "", "neuron_devices": '
    '[{"neuron_device_index": 0, "mem_ecc_corrected": E, "mem_ecc_uncorrected": 0,'
    '"sram_ecc_corrected": 0, "sram_ecc_uncorrected": 0}]}}'
)
_GOOD = {"U": "50", "C": "3", "L": "0.25", "H": "1000", "E": "0", "P": "7"}


def _line(slot: str, token: str) -> bytes:
    """The healthy report with ``token`` (raw JSON text) at ``slot``."""
    values = {**_GOOD, slot: token}
    runtime = _RUNTIME.replace('"pid": 7', '"pid": ' + values["P"])
    for key in ("U", "C", "L", "H"):
        runtime = runtime.replace(f": {key}", ": " + values[key], 1)
    system = _SYSTEM.replace("E,", values["E"] + ",")
    return ('{"neuron_runtime_data": [' + runtime + "], " + system + "}").encode()


def _utilization(report: Report) -> object:
    return report.runtimes[0].cores[0].utilization_percent


def _completed(report: Report) -> object:
    execution = report.runtimes[0].execution
    assert execution is not None
    return execution.statuses.get("completed")


def _p50(report: Report) -> object:
    execution = report.runtimes[0].execution
    assert execution is not None
    return (execution.total_latency or {}).get("p50")


def _host_bytes(report: Report) -> object:
    memory = report.runtimes[0].memory
    assert memory is not None
    return memory.host_bytes


def _ecc(report: Report) -> object:
    assert report.ecc is not None
    return report.ecc[0].counts.get("mem_ecc_corrected")


def _pid(report: Report) -> object:
    return report.runtimes[0].pid


SLOTS: dict[str, Callable[[Report], object]] = {
    "U": _utilization,
    "C": _completed,
    "L": _p50,
    "H": _host_bytes,
    "E": _ecc,
    "P": _pid,
}
SLOT_IDS = ["utilization", "completed", "latency-p50", "host-bytes", "ecc-count", "pid"]


def test_the_template_is_a_healthy_report() -> None:
    report = parse_report(_line("U", "50"))
    assert report.valid
    assert report.rejected_values == 0
    assert report.group_errors == ()
    assert [getter(report) for getter in SLOTS.values()] == [50.0, 3.0, 0.25, 1000.0, 0.0, 7]


BAD_NUMBERS = [
    ("NaN", "J1-NaN"),
    ("Infinity", "J1-Infinity"),
    ("-Infinity", "J1-minus-Infinity"),
    ("1e400", "J2-1e400"),
    ("-1e400", "J2-minus-1e400"),
    (str(2**361), "J6-int-over-2^360"),
    ("2.5e108", "J6-float-over-2^360"),
    (str(10**400), "J6-int-beyond-float-range"),
    ("-1", "J6-negative-int"),
    ("-0.5", "J6-negative-float"),
    ("true", "J5-true"),
    ("false", "J5-false"),
    ('"12"', "J5-numeric-string"),
    ("[]", "J5-empty-list"),
    ("{}", "J5-empty-object"),
    ("[1]", "J5-list-of-number"),
]


@pytest.mark.parametrize("slot", list(SLOTS), ids=SLOT_IDS)
@pytest.mark.parametrize(("token", "case"), BAD_NUMBERS, ids=[c for _, c in BAD_NUMBERS])
def test_bad_number_is_dropped_and_counted(slot: str, token: str, case: str) -> None:
    # given
    line = _line(slot, token)
    # when
    report = parse_report(line)
    # then
    assert SLOTS[slot](report) is None, case
    assert report.rejected_values == 1
    assert report.valid


@pytest.mark.parametrize("slot", list(SLOTS), ids=SLOT_IDS)
def test_null_is_absent_not_an_error(slot: str) -> None:
    # null is how neuron-monitor says "no value" (e.g. idle latencies): absent, not counted
    report = parse_report(_line(slot, "null"))
    assert SLOTS[slot](report) is None
    assert report.rejected_values == 0


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("0", 0.0),
        ("100", 100.0),
        ("12.5", 12.5),
        ("1e2", 100.0),
        ("-0.0", 0.0),
        (str(2**360), MAX_ABS_VALUE),
        (repr(MAX_ABS_VALUE), MAX_ABS_VALUE),
    ],
    ids=["zero", "int", "float", "exponent", "negative-zero", "int-2^360", "float-2^360"],
)
def test_good_number_is_kept_as_float(token: str, expected: float) -> None:
    report = parse_report(_line("H", token))
    value = _host_bytes(report)
    assert value == expected
    assert type(value) is float
    assert report.rejected_values == 0


@pytest.mark.parametrize(
    ("slot", "metric"),
    [
        ("U", "NeuronCoreUtilization"),
        ("C", "ExecutionsCompleted"),
        ("H", "NeuronRuntimeHostMemoryUsed"),
        ("E", "HardwareEccErrorsCorrected"),
        ("L", "ExecutionLatencyP50"),
    ],
    ids=["utilization", "completed", "host-memory", "ecc", "latency"],
)
def test_true_never_becomes_one(slot: str, metric: str) -> None:
    # given: J5, a boolean where a number belongs
    report = parse_report(_line(slot, "true"))
    # when
    samples = [s for s in map_report(report, ALL_METRICS) if s.metric == metric]
    # then: no sample carries the 1 that True would convert to
    assert all(sample.value != 1.0 for sample in samples)
    assert report.rejected_values == 1


@pytest.mark.parametrize(
    "line",
    [
        b'{"a": ' + b"1" * 5000 + b"}",
        b'{"neuron_runtime_data": [{"pid": ' + b"9" * 5000 + b"}]}",
        b"[" * 100_000,
        b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"a": ' + b'{"b": ' * 100_000 + b"1" + b"}" * 100_001,
        b'{"instance_info": {"instance_id": "\xff\xfe"}}',
        b'{"instance_info": {"instance_id": "\xed\xa0\x80"}}',
        b'{"a": "caf\xe9"}',
        b"\xc3",
        b"[]",
        b"[{}]",
        b"1",
        b'"report"',
        b"null",
        b"true",
        b"garbage",
        b'{"neuron_runtime_data": [',
        b"{} {}",
        b"",
    ],
    ids=[
        "J3-5000-digit-int",
        "J3-5000-digit-pid",
        "J4-100k-nested-brackets",
        "J4-100k-nested-lists-closed",
        "J4-100k-nested-objects",
        "P6-invalid-utf8",
        "P6-J10-utf8-encoded-lone-surrogate",
        "P6-latin1-byte",
        "P6-truncated-sequence",
        "non-object-list",
        "non-object-list-of-object",
        "non-object-number",
        "non-object-string",
        "non-object-null",
        "non-object-bool",
        "not-json",
        "truncated-json",
        "two-objects",
        "empty-line",
    ],
)
def test_unusable_line_raises_report_error(line: bytes) -> None:
    with pytest.raises(ReportError):
        parse_report(line)


def test_report_error_is_a_value_error_with_a_short_message() -> None:
    with pytest.raises(ValueError, match="not valid JSON") as info:
        parse_report(b"[" * 100_000)
    assert len(str(info.value)) < 100


def _tagged(tag: str) -> bytes:
    doc = {
        "neuron_runtime_data": [{"pid": 1, "neuron_runtime_tag": tag, "error": "", "report": {}}],
        "instance_info": {"instance_id": tag, "instance_type": "inf2.xlarge", "error": ""},
    }
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "text",
    [
        "line\nbreak",
        "carriage\rreturn",
        "tab\there",
        "bell\x07",
        "nul\x00",
        "del\x7f",
        "caf\u00e9",
        "\u2028",
        "\ud800",
        "emoji \U0001f600",
        "   ",
        "x" * 257,
    ],
    ids=[
        "J9-newline",
        "J9-carriage-return",
        "J9-tab",
        "J9-bell",
        "J9-nul",
        "J9-del",
        "J9-non-ascii",
        "J9-line-separator",
        "J10-lone-surrogate",
        "J9-astral",
        "J9-blank",
        "J9-too-long",
    ],
)
def test_bad_label_is_dropped_and_counted(text: str) -> None:
    # given: the same bad string as runtime tag and as instance id
    report = parse_report(_tagged(text))
    # then: neither becomes a label, each is counted once
    assert report.runtimes[0].tag is None
    assert report.instance is not None
    assert report.instance.instance_id is None
    assert report.instance.instance_type == "inf2.xlarge"
    assert report.rejected_values == 2


@pytest.mark.parametrize(
    "text",
    ['{"_aws":1}', '"},{"_aws":{"CloudWatchMetrics":[]}', "x" * 256, "i-0abc", "a b"],
    ids=["J9-aws-object-text", "J9-json-breakout-text", "max-length", "plain", "inner-space"],
)
def test_printable_ascii_label_is_kept_verbatim(text: str) -> None:
    # printable ASCII is a legal label; JSON escaping keeps it inert (checked end to end in
    # test_pipeline_props), so it is kept as the exact string, never parsed
    report = parse_report(_tagged(text))
    assert report.runtimes[0].tag == text
    assert report.instance is not None
    assert report.instance.instance_id == text
    assert report.rejected_values == 0


def test_empty_label_is_absent_not_an_error() -> None:
    report = parse_report(_tagged(""))
    assert report.runtimes[0].tag is None
    assert report.rejected_values == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ok", "ok"),
        ("", None),
        (" ", None),
        ("a\n", None),
        ("\u00e9", None),
        (12, None),
        (None, None),
        (True, None),
        ("~" * 256, "~" * 256),
        ("~" * 257, None),
    ],
    ids=["ok", "empty", "blank", "newline", "non-ascii", "int", "none", "bool", "256", "257"],
)
def test_clean_text(value: object, expected: str | None) -> None:
    assert clean_text(value) == expected


def _with_core_key(key: str, where: str) -> bytes:
    report: dict[str, Any] = {}
    if where == "counters":
        report["neuroncore_counters"] = {
            "error": "",
            "neuroncores_in_use": {key: {"neuroncore_utilization": 10}, "1": {}},
        }
    else:
        report["memory_used"] = {
            "error": "",
            "neuron_runtime_used_bytes": {
                "host": 1,
                "neuron_device": 2,
                "usage_breakdown": {
                    "neuroncore_memory_usage": {key: {"tensors": 10}, "1": {"tensors": 5}}
                },
            },
        }
    return json.dumps({"neuron_runtime_data": [{"pid": 1, "report": report}]}).encode()


@pytest.mark.parametrize(
    "key",
    ["0\n", "c\u00e9", "\ud800", "\x1b[31m"],
    ids=["newline", "non-ascii", "surrogate", "escape"],
)
def test_bad_core_key_in_counters_is_dropped_and_counted(key: str) -> None:
    report = parse_report(_with_core_key(key, "counters"))
    assert [core.core for core in report.runtimes[0].cores] == ["1"]
    assert report.rejected_values == 1


@pytest.mark.parametrize("key", ["0\n", "c\u00e9"], ids=["newline", "non-ascii"])
def test_bad_core_key_in_memory_breakdown_is_dropped_and_counted(key: str) -> None:
    report = parse_report(_with_core_key(key, "memory"))
    memory = report.runtimes[0].memory
    assert memory is not None
    assert dict(memory.core_breakdown) == {"1": {"tensors": 5.0}}
    assert report.rejected_values == 1


def test_bad_key_in_error_summary_is_counted() -> None:
    doc = {
        "neuron_runtime_data": [
            {"report": {"execution_stats": {"error": "", "error_summary": {"gen\nric": 5}}}}
        ]
    }
    report = parse_report(json.dumps(doc).encode())
    execution = report.runtimes[0].execution
    assert execution is not None
    assert dict(execution.errors) == {}
    assert report.rejected_values == 1


def test_duplicate_keys_last_one_wins() -> None:
    line = (
        b'{"instance_info": {"instance_id": "i-first", "instance_id": "i-last"},'
        b' "neuron_runtime_data": [{"pid": 1, "report": {"neuroncore_counters": {'
        b'"neuroncores_in_use": {"0": {"neuroncore_utilization": 10,'
        b' "neuroncore_utilization": 20}}}}}],'
        b' "neuron_runtime_data": [{"pid": 2, "report": {}}]}'
    )
    report = parse_report(line)
    assert report.instance is not None
    assert report.instance.instance_id == "i-last"
    assert [runtime.pid for runtime in report.runtimes] == [2]


def test_duplicate_keys_inside_one_group_last_one_wins() -> None:
    line = (
        b'{"neuron_runtime_data": [{"pid": 1, "report": {"neuroncore_counters": {'
        b'"neuroncores_in_use": {"0": {"neuroncore_utilization": 10,'
        b' "neuroncore_utilization": 20}}}}}]}'
    )
    assert parse_report(line).runtimes[0].cores[0].utilization_percent == 20.0


# -- J7: missing keys, empty arrays, error fields -------------------------------------------------

_ERROR = "something went wrong"


@pytest.mark.parametrize(
    ("doc", "group", "nothing_from_it"),
    [
        (
            {
                "neuron_runtime_data": [
                    {
                        "pid": 1,
                        "report": {
                            "neuroncore_counters": {
                                "error": _ERROR,
                                "neuroncores_in_use": {"0": {"neuroncore_utilization": 5}},
                            }
                        },
                    }
                ]
            },
            "neuroncore_counters",
            lambda r: r.runtimes[0].cores == (),
        ),
        (
            {
                "neuron_runtime_data": [
                    {
                        "pid": 1,
                        "report": {
                            "execution_stats": {
                                "error": _ERROR,
                                "execution_summary": {"completed": 5},
                            }
                        },
                    }
                ]
            },
            "execution_stats",
            lambda r: r.runtimes[0].execution is None,
        ),
        (
            {
                "neuron_runtime_data": [
                    {
                        "pid": 1,
                        "report": {
                            "memory_used": {
                                "error": _ERROR,
                                "neuron_runtime_used_bytes": {"host": 5},
                            }
                        },
                    }
                ]
            },
            "memory_used",
            lambda r: r.runtimes[0].memory is None,
        ),
        (
            {
                "system_data": {
                    "neuron_hw_counters": {
                        "error": _ERROR,
                        "neuron_devices": [{"neuron_device_index": 0, "mem_ecc_corrected": 5}],
                    }
                }
            },
            "neuron_hw_counters",
            lambda r: r.ecc is None,
        ),
        (
            {"instance_info": {"error": _ERROR, "instance_id": "i-1"}},
            "instance_info",
            lambda r: r.instance is None,
        ),
        (
            {"neuron_hardware_info": {"error": _ERROR, "neuron_device_count": 1}},
            "neuron_hardware_info",
            lambda r: r.hardware is None,
        ),
        (
            {"system_data": {"memory_info": {"error": _ERROR, "memory_used_bytes": 5}}},
            "memory_info",
            lambda r: r.host is None,
        ),
        (
            {"system_data": {"vcpu_usage": {"error": _ERROR, "average_usage": {"user": 5}}}},
            "vcpu_usage",
            lambda r: r.host is None,
        ),
    ],
    ids=[
        "neuroncore_counters",
        "execution_stats",
        "memory_used",
        "neuron_hw_counters",
        "instance_info",
        "neuron_hardware_info",
        "memory_info",
        "vcpu_usage",
    ],
)
def test_group_with_error_is_recorded_and_yields_no_data(
    doc: dict[str, Any], group: str, nothing_from_it: Callable[[Report], bool]
) -> None:
    # when
    report = parse_report(json.dumps(doc).encode())
    # then
    assert report.group_errors == (group,)
    assert nothing_from_it(report)
    assert report.rejected_values == 0
    assert not report.valid


def test_group_error_spares_the_other_groups() -> None:
    doc = {
        "neuron_runtime_data": [],
        "system_data": {"memory_info": {"error": _ERROR}},
        "instance_info": {"error": "", "instance_id": "i-ok"},
    }
    report = parse_report(json.dumps(doc).encode())
    assert report.group_errors == ("memory_info",)
    assert report.instance is not None
    assert report.instance.instance_id == "i-ok"
    assert report.valid


@pytest.mark.parametrize(
    "error",
    ["", None, 0, False],
    ids=["empty-string", "null", "zero", "false"],
)
def test_empty_or_falsy_error_is_not_an_error(error: object) -> None:
    doc = {"instance_info": {"error": error, "instance_id": "i-1"}}
    report = parse_report(json.dumps(doc).encode())
    assert report.group_errors == ()
    assert report.instance is not None
    assert report.instance.instance_id == "i-1"


def test_runtime_level_error_is_recorded() -> None:
    doc = {"neuron_runtime_data": [{"pid": 9, "error": _ERROR, "report": {}}]}
    report = parse_report(json.dumps(doc).encode())
    assert report.group_errors == ("runtime",)
    assert report.runtimes[0].cores == ()
    assert report.runtimes[0].execution is None
    assert not report.valid


def test_runtime_level_error_yields_no_data() -> None:
    doc = {
        "neuron_runtime_data": [
            {
                "pid": 9,
                "error": _ERROR,
                "report": {
                    "neuroncore_counters": {
                        "error": "",
                        "neuroncores_in_use": {"0": {"neuroncore_utilization": 50}},
                    }
                },
            }
        ]
    }
    report = parse_report(json.dumps(doc).encode())
    assert report.group_errors == ("runtime",)
    assert report.runtimes[0].cores == ()
    assert not report.valid


@pytest.mark.parametrize(
    ("doc", "check"),
    [
        ({"neuron_runtime_data": [{"pid": 1}]}, lambda r: r.runtimes[0].cores == ()),
        (
            {"neuron_runtime_data": [{"pid": 1, "report": {"neuroncore_counters": {}}}]},
            lambda r: r.runtimes[0].cores == (),
        ),
        (
            {
                "neuron_runtime_data": [
                    {"report": {"neuroncore_counters": {"neuroncores_in_use": {"0": {}}}}}
                ]
            },
            lambda r: r.runtimes[0].cores[0].utilization_percent is None,
        ),
        (
            {"neuron_runtime_data": [{"report": {"execution_stats": {"latency_stats": {}}}}]},
            lambda r: r.runtimes[0].execution.total_latency is None,
        ),
        (
            {"neuron_runtime_data": [{"report": {"memory_used": {}}}]},
            lambda r: r.runtimes[0].memory.host_bytes is None,
        ),
        ({"neuron_runtime_data": [None, 3, "x", []]}, lambda r: r.runtimes == ()),
        ({"neuron_runtime_data": {"pid": 1}}, lambda r: r.runtimes == ()),
        ({"system_data": []}, lambda r: r.ecc is None and r.host is None),
        (
            {"system_data": {"neuron_hw_counters": {"neuron_devices": [{"mem_ecc_corrected": 1}]}}},
            lambda r: r.ecc == (),
        ),
    ],
    ids=[
        "runtime-without-report",
        "counters-without-cores",
        "core-without-utilization",
        "latency-stats-without-percentiles",
        "memory-without-bytes",
        "runtime-entries-not-objects",
        "runtime-data-not-a-list",
        "system-data-not-an-object",
        "device-without-index",
    ],
)
def test_missing_keys_yield_no_values_and_no_crash(
    doc: dict[str, Any], check: Callable[[Any], bool]
) -> None:
    report = parse_report(json.dumps(doc).encode())
    assert check(report)
    assert report.rejected_values == 0


# -- validity (the watchdog's heartbeat) --------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "valid"),
    [
        ({"neuron_runtime_data": []}, False),
        ({"neuron_runtime_data": [], "instance_info": {"error": _ERROR}}, False),
        (
            {
                "neuron_runtime_data": [],
                "instance_info": {"instance_id": "i-1", "error": ""},
                "neuron_hardware_info": {"neuron_device_count": 1, "error": ""},
            },
            True,
        ),
        ({"instance_info": {"instance_id": "i-1", "error": ""}}, True),
        ({}, False),
        ({"foo": 1}, False),
        ({"neuron_runtime_data": "none"}, False),
        ({"neuron_runtime_data": [{"pid": 1, "error": _ERROR, "report": {}}]}, False),
        (
            {
                "neuron_runtime_data": [{"pid": 1, "error": _ERROR, "report": {}}],
                "system_data": {
                    "memory_info": {"error": _ERROR},
                    "vcpu_usage": {"error": _ERROR},
                    "neuron_hw_counters": {"error": _ERROR},
                },
                "instance_info": {"error": _ERROR},
                "neuron_hardware_info": {"error": _ERROR},
            },
            False,
        ),
    ],
    ids=[
        "empty-runtime-list-alone-is-no-data",
        "empty-runtime-list-and-an-error",
        "idle-host-as-neuron-monitor-reports-it",
        "instance-info-only",
        "empty-object",
        "unknown-keys-only",
        "runtime-data-not-a-list",
        "only-a-failed-runtime",
        "every-section-has-an-error",
    ],
)
def test_validity(doc: dict[str, Any], valid: bool) -> None:
    assert parse_report(json.dumps(doc).encode()).valid is valid


def test_every_section_error_lists_every_group() -> None:
    doc = {
        "neuron_runtime_data": [{"pid": 1, "error": _ERROR, "report": {}}],
        "system_data": {
            "memory_info": {"error": _ERROR},
            "vcpu_usage": {"error": _ERROR},
            "neuron_hw_counters": {"error": _ERROR},
        },
        "instance_info": {"error": _ERROR},
        "neuron_hardware_info": {"error": _ERROR},
    }
    report = parse_report(json.dumps(doc).encode())
    assert sorted(report.group_errors) == sorted(
        [
            "runtime",
            "memory_info",
            "vcpu_usage",
            "neuron_hw_counters",
            "instance_info",
            "neuron_hardware_info",
        ]
    )


# -- recorded and synthetic samples -------------------------------------------------------------

FIXTURE_LINES = [
    (path, n, line)
    for path in sorted(REPORTS.iterdir())
    if path.suffix in {".json", ".jsonl"}
    for n, line in enumerate(path.read_bytes().splitlines())
]


def _raw_group_errors(doc: dict[str, Any]) -> list[str]:
    """Group names with a non-empty error, read straight from the raw JSON."""
    found = []
    for runtime in doc.get("neuron_runtime_data", []):
        if runtime.get("error"):
            found.append("runtime")
        for name, group in runtime.get("report", {}).items():
            if isinstance(group, dict) and group.get("error"):
                found.append(name)
    for name, group in doc.get("system_data", {}).items():
        if group.get("error"):
            found.append(name)
    for name in ("instance_info", "instance_data", "neuron_hardware_info"):
        if doc.get(name, {}).get("error"):
            found.append(name)
    return found


def _raw_periods(doc: dict[str, Any]) -> list[float]:
    periods = [g["period"] for g in doc.get("system_data", {}).values() if "period" in g]
    for runtime in doc.get("neuron_runtime_data", []):
        periods += [
            g["period"]
            for g in runtime.get("report", {}).values()
            if isinstance(g, dict) and "period" in g and not g.get("error")
        ]
    return periods


@pytest.mark.parametrize(
    ("path", "n", "line"),
    FIXTURE_LINES,
    ids=[f"{path.stem}-{n}" for path, n, _ in FIXTURE_LINES],
)
def test_every_sample_parses_cleanly(path: Path, n: int, line: bytes) -> None:
    # given
    raw = json.loads(line)
    info = raw.get("instance_info", raw.get("instance_data"))
    # when
    report = parse_report(line)
    # then
    assert report.valid
    assert report.rejected_values == 0
    assert sorted(report.group_errors) == sorted(_raw_group_errors(raw))
    assert report.period_seconds == max(_raw_periods(raw))
    assert report.instance is not None
    assert report.instance.instance_id == info["instance_id"]
    assert report.instance.instance_type == info["instance_type"]
    assert report.instance.region == info["instance_region"]
    assert len(report.runtimes) == len(raw["neuron_runtime_data"]), (path.name, n)


def test_trn2_sample_reads_undocumented_fields() -> None:
    line = (REPORTS / "synthetic-trn2-lnc2-2025.json").read_bytes()
    raw = json.loads(line)
    report = parse_report(line)
    assert report.instance is not None
    assert report.instance.ultraserver_id == raw["instance_info"]["ultraserver_id"]
    assert report.hardware is not None
    assert report.hardware.device_type == "trainium2"
    assert report.hardware.logical_core_config == 2
    raw_core = raw["neuron_runtime_data"][0]["report"]["neuroncore_counters"]["neuroncores_in_use"]
    core = report.runtimes[0].cores[0]
    assert core.core == "0"
    assert core.flops == raw_core["0"]["flops"]
    assert core.effective_flops == raw_core["0"]["effective_flops"]
    idle = report.runtimes[1].execution
    assert idle is not None
    assert idle.total_latency is None
    assert idle.device_latency is None


def test_no_runtime_sample_is_valid_and_idle() -> None:
    report = parse_report((REPORTS / "all-smi-neuron.rs-trn1.2xlarge-no-runtime.json").read_bytes())
    assert report.valid
    assert report.runtimes == ()
    assert report.ecc is None
    assert report.host is not None
    assert report.host.memory["memory_used_bytes"] == 1284890624.0


# -- legacy 1.x names ----------------------------------------------------------------------------


def _modernize(legacy: dict[str, Any]) -> dict[str, Any]:
    """The same data under 2.x names, built by hand from the 1.x document."""
    doc = copy.deepcopy(legacy)
    doc["instance_info"] = doc.pop("instance_data")
    devices: list[Any] = []
    for runtime in doc["neuron_runtime_data"]:
        body = runtime["report"]
        stats = body.pop("inference_stats")
        stats["execution_summary"] = stats.pop("inference_summary")
        body["execution_stats"] = stats
        devices.extend(body.pop("hw_counters")["neuron_devices"])
    doc["system_data"]["neuron_hw_counters"] = {"period": 1, "error": "", "neuron_devices": devices}
    return doc


def test_legacy_names_map_to_the_same_records() -> None:
    # given
    legacy_line = (REPORTS / "synthetic-legacy-1x-inf1.json").read_bytes()
    modern_line = json.dumps(_modernize(json.loads(legacy_line))).encode()
    # when
    legacy, modern = parse_report(legacy_line), parse_report(modern_line)
    # then
    assert legacy.instance == modern.instance
    assert legacy.runtimes == modern.runtimes
    assert legacy.ecc == modern.ecc
    assert map_report(legacy, ALL_METRICS) == map_report(modern, ALL_METRICS)


def test_legacy_sample_values() -> None:
    report = parse_report((REPORTS / "synthetic-legacy-1x-inf1.json").read_bytes())
    assert report.instance is not None
    assert report.instance.instance_id == "i-0011223344556677a"
    (runtime,) = report.runtimes
    assert [(c.core, c.utilization_percent) for c in runtime.cores] == [
        ("0", 42.01),
        ("1", 42.02),
        ("2", 42.03),
        ("3", 42.04),
    ]
    assert runtime.execution is not None
    assert runtime.execution.statuses["completed"] == 123.0
    assert runtime.execution.total_latency is not None
    assert runtime.execution.total_latency["p99"] == 0.01100012
    assert runtime.memory is not None
    assert (runtime.memory.host_bytes, runtime.memory.device_bytes) == (1000000.0, 2000000.0)
    assert report.ecc is not None
    assert [(d.device, dict(d.counts)) for d in report.ecc] == [
        ("0", {"mem_ecc_corrected": 0.0, "mem_ecc_uncorrected": 0.0, "sram_ecc_uncorrected": 0.0})
    ]


def test_system_ecc_takes_precedence_over_legacy_per_runtime_counters() -> None:
    doc = {
        "neuron_runtime_data": [
            {
                "report": {
                    "hw_counters": {
                        "neuron_devices": [{"neuron_device_index": 0, "mem_ecc_corrected": 9}]
                    }
                }
            }
        ],
        "system_data": {
            "neuron_hw_counters": {
                "neuron_devices": [{"neuron_device_index": 0, "mem_ecc_corrected": 1}]
            }
        },
    }
    report = parse_report(json.dumps(doc).encode())
    assert report.ecc is not None
    assert [dict(d.counts) for d in report.ecc] == [{"mem_ecc_corrected": 1.0}]


@pytest.mark.parametrize(
    "key", ["a0", "1024", "-1", "1.5", "٣", " 1"], ids=["letters", "too-big", "negative", "float",
    "non-ascii-digit", "space"]
)  # fmt: skip
def test_only_small_decimal_core_keys_become_dimension_values(key: str) -> None:
    counters = {"neuroncores_in_use": {key: {"neuroncore_utilization": 5}, "3": {}}, "error": ""}
    memory = {
        "neuron_runtime_used_bytes": {"usage_breakdown": {"neuroncore_memory_usage": {key: {}}}},
        "error": "",
    }
    doc = {"neuron_runtime_data": [{"report": {"neuroncore_counters": counters,
                                               "memory_used": memory}}]}  # fmt: skip
    report = parse_report(json.dumps(doc).encode())
    assert [core.core for core in report.runtimes[0].cores] == ["3"]
    memory_used = report.runtimes[0].memory
    assert memory_used is not None
    assert dict(memory_used.core_breakdown) == {}
    assert report.rejected_values == 2
