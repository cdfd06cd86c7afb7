"""Settings: precedence, conversion, validation, the config file, the CLI's exit codes, and the
generated neuron-monitor configuration. Environments and flags are passed in, never patched."""

from __future__ import annotations

from pathlib import Path

import pytest

from emf_neuron import __version__
from emf_neuron.catalogue import KNOWN_DIMENSIONS
from emf_neuron.cli import main, read_config_file
from emf_neuron.config import Settings, env_name, flag_name, load_settings
from emf_neuron.errors import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, ConfigError
from emf_neuron.monitor_config import format_period, monitor_config

FLAG = {"period_seconds": "7"}
ENV = {"EMF_NEURON_PERIOD_SECONDS": "8"}
FILE = {"period_seconds": 9}


@pytest.mark.parametrize(
    ("flags", "environ", "file_values", "expected"),
    [
        (FLAG, ENV, FILE, 7.0),
        ({"period_seconds": None}, ENV, FILE, 8.0),
        ({}, ENV, FILE, 8.0),
        ({}, {}, FILE, 9.0),
        (FLAG, {}, FILE, 7.0),
        (FLAG, ENV, None, 7.0),
        ({}, {}, None, 5.0),
        ({}, {"EMF_NEURON_PERIOD": "1", "PERIOD_SECONDS": "2"}, {}, 5.0),
    ],
    ids=[
        "flag-beats-env-and-file",
        "unset-flag-falls-to-env",
        "env-beats-file",
        "file-beats-default",
        "flag-beats-file",
        "flag-beats-env",
        "default",
        "near-miss-env-names-ignored",
    ],
)
def test_precedence_flag_env_file_default(
    flags: dict[str, str | None],
    environ: dict[str, str],
    file_values: dict[str, object] | None,
    expected: float,
) -> None:
    assert load_settings(flags, environ, file_values).period_seconds == expected


def test_precedence_is_per_setting() -> None:
    settings = load_settings(
        {"namespace": "FromFlag"},
        {"EMF_NEURON_PUBLISH_INTERVAL_SECONDS": "30"},
        {"namespace": "FromFile", "profile": "minimal", "publish_interval_seconds": 90},
    )
    assert (settings.namespace, settings.publish_interval_seconds, settings.profile) == (
        "FromFlag",
        30.0,
        "minimal",
    )


def test_defaults() -> None:
    settings = load_settings({}, {})
    assert settings == Settings()
    assert settings.namespace == "NeuronMonitor"
    assert settings.period_seconds == 5.0
    assert settings.publish_interval_seconds == 60.0
    assert settings.max_line_bytes == 4 * 1024 * 1024
    assert settings.profile == "standard"
    assert settings.monitor_command == ()
    assert settings.input is None


@pytest.mark.parametrize(
    ("name", "env", "flag"),
    [
        ("hang_timeout_seconds", "EMF_NEURON_HANG_TIMEOUT_SECONDS", "--hang-timeout-seconds"),
        ("namespace", "EMF_NEURON_NAMESPACE", "--namespace"),
    ],
    ids=["hang-timeout", "namespace"],
)
def test_one_name_three_spellings(name: str, env: str, flag: str) -> None:
    assert (env_name(name), flag_name(name)) == (env, flag)


@pytest.mark.parametrize(
    ("flags", "environ", "file_values", "flag"),
    [
        ({"period_seconds": "5x"}, {}, {}, "--period-seconds"),
        ({"period_seconds": "-1"}, {}, {}, "--period-seconds"),
        ({"period_seconds": "0"}, {}, {}, "--period-seconds"),
        ({"period_seconds": "nan"}, {}, {}, "--period-seconds"),
        ({"period_seconds": "inf"}, {}, {}, "--period-seconds"),
        ({}, {"EMF_NEURON_PERIOD_SECONDS": ""}, {}, "--period-seconds"),
        ({}, {}, {"period_seconds": True}, "--period-seconds"),
        ({}, {}, {"period_seconds": [5]}, "--period-seconds"),
        ({"stop_timeout_seconds": "ten"}, {}, {}, "--stop-timeout-seconds"),
        ({"publish_interval_seconds": "-60"}, {}, {}, "--publish-interval-seconds"),
        (
            {"period_seconds": "5", "hang_timeout_seconds": "9.9"},
            {},
            {},
            "--hang-timeout-seconds",
        ),
        (
            {"period_seconds": "10", "publish_interval_seconds": "5"},
            {},
            {},
            "--publish-interval-seconds",
        ),
        (
            {"backoff_floor_seconds": "10", "backoff_cap_seconds": "5"},
            {},
            {},
            "--backoff-cap-seconds",
        ),
        ({"profile": "everything"}, {}, {}, "--profile"),
        ({}, {"EMF_NEURON_PROFILE": "Standard"}, {}, "--profile"),
        ({"namespace": "has space"}, {}, {}, "--namespace"),
        ({"namespace": ""}, {}, {}, "--namespace"),
        ({"namespace": "x" * 257}, {}, {}, "--namespace"),
        ({"namespace": "caf\u00e9"}, {}, {}, "--namespace"),
        ({"dimensions": ",".join(f"D{n}" for n in range(30))}, {}, {}, "--dimensions"),
        ({"dimensions": "1st"}, {}, {}, "--dimensions"),
        ({"dimensions": "Cluster Name"}, {}, {}, "--dimensions"),
        ({"dimensions": "ClusterName,PodName"}, {}, {}, "--dimensions"),
        ({"sink": "tcp://[::1"}, {}, {}, "--sink"),
        ({"sink": "http://127.0.0.1:25888"}, {}, {}, "--sink"),
        ({"monitor_command": "''"}, {}, {}, "--monitor-command"),
        ({"stop_timeout_seconds": "1e11"}, {}, {}, "--stop-timeout-seconds"),
        ({"max_line_bytes": "lots"}, {}, {}, "--max-line-bytes"),
        ({"max_line_bytes": "100"}, {}, {}, "--max-line-bytes"),
        ({"max_line_bytes": "0"}, {}, {}, "--max-line-bytes"),
        ({}, {}, {"max_line_bytes": 4096.5}, "--max-line-bytes"),
        ({"log_level": "LOUD"}, {}, {}, "--log-level"),
        ({"input": "reports.jsonl"}, {}, {}, "--input"),
        ({"monitor_command": "neuron-monitor -c 'unbalanced"}, {}, {}, "--monitor-command"),
        ({}, {}, {"namespace": 12}, "--namespace"),
        ({"high_resolution": "maybe"}, {}, {}, "--high-resolution"),
    ],
    ids=[
        "duration-5x",
        "duration-negative",
        "duration-zero",
        "duration-nan",
        "duration-inf",
        "duration-empty-env",
        "duration-bool-in-file",
        "duration-list-in-file",
        "stop-timeout-word",
        "publish-negative",
        "hang-under-two-periods",
        "publish-under-one-period",
        "backoff-cap-under-floor",
        "unknown-profile",
        "profile-is-case-sensitive",
        "namespace-space",
        "namespace-empty",
        "namespace-too-long",
        "namespace-non-ascii",
        "thirty-dimensions",
        "dimension-starts-with-digit",
        "dimension-with-space",
        "dimension-not-a-known-label",
        "sink-malformed-ipv6",
        "sink-not-tcp-or-udp",
        "empty-monitor-command",
        "duration-over-a-day",
        "max-line-bytes-word",
        "max-line-bytes-too-small",
        "max-line-bytes-zero",
        "max-line-bytes-float-in-file",
        "unknown-log-level",
        "input-not-stdin",
        "command-unbalanced-quote",
        "namespace-number-in-file",
        "boolean-word",
    ],
)
def test_bad_value_raises_config_error_naming_the_flag(
    flags: dict[str, str | None],
    environ: dict[str, str],
    file_values: dict[str, object],
    flag: str,
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(flags, environ, file_values)
    message = str(info.value)
    assert flag in message
    assert "\n" not in message


def test_unknown_key_in_file_is_named() -> None:
    with pytest.raises(ConfigError, match="hang_timeout") as info:
        load_settings({}, {}, {"hang_timeout": 30, "period_seconds": 5})
    assert "period_seconds" not in str(info.value)


@pytest.mark.parametrize(
    "namespace", ["NeuronMonitor\n", "A" * 256 + "\n"], ids=["trailing-newline", "max+newline"]
)
def test_namespace_with_trailing_newline_is_rejected(namespace: str) -> None:
    with pytest.raises(ConfigError, match="--namespace"):
        load_settings({}, {"EMF_NEURON_NAMESPACE": namespace})


@pytest.mark.parametrize(
    ("name", "flag"),
    [("include_metrics", "--include-metrics"), ("exclude_metrics", "--exclude-metrics")],
    ids=["include", "exclude"],
)
def test_unknown_metric_name_names_the_flag(name: str, flag: str) -> None:
    with pytest.raises(ConfigError, match=flag):
        load_settings({name: "NoSuchMetric"}, {})


@pytest.mark.parametrize(
    ("namespace"),
    ["NeuronMonitor", "a", "A" * 256, "Team/ML.prod_1#x:y-z"],
    ids=["default", "one-char", "256-chars", "every-allowed-symbol"],
)
def test_good_namespaces(namespace: str) -> None:
    assert load_settings({"namespace": namespace}, {}).namespace == namespace


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/opt/aws/neuron/bin/neuron-monitor", ("/opt/aws/neuron/bin/neuron-monitor",)),
        (
            "/usr/bin/python3 -m emf_neuron.simulator --period-seconds 0.2",
            ("/usr/bin/python3", "-m", "emf_neuron.simulator", "--period-seconds", "0.2"),
        ),
        ("nm -c '/tmp/my config.json'", ("nm", "-c", "/tmp/my config.json")),
        ('nm -c "a b" c\\ d', ("nm", "-c", "a b", "c d")),
        ("  nm   -x  ", ("nm", "-x")),
        (["nm", "-c", "a b"], ("nm", "-c", "a b")),
    ],
    ids=["bare", "with-args", "single-quotes", "double-quotes-and-escape", "spaces", "toml-list"],
)
def test_monitor_command_is_shell_split(raw: object, expected: tuple[str, ...]) -> None:
    assert load_settings({}, {}, {"monitor_command": raw}).monitor_command == expected


def test_monitor_command_from_env_is_shell_split() -> None:
    env = {"EMF_NEURON_MONITOR_COMMAND": "neuron-monitor -c '/etc/x y.json'"}
    assert load_settings({}, env).monitor_command == ("neuron-monitor", "-c", "/etc/x y.json")


@pytest.mark.parametrize(
    ("values", "hang", "grace"),
    [
        ({}, 20.0, 30.0),
        ({"period_seconds": "1"}, 8.0, 30.0),
        ({"period_seconds": "10", "publish_interval_seconds": "60"}, 35.0, 35.0),
        ({"period_seconds": "0.2", "publish_interval_seconds": "1"}, 5.6, 30.0),
        ({"hang_timeout_seconds": "50"}, 50.0, 50.0),
        ({"hang_timeout_seconds": "10", "startup_grace_seconds": "7"}, 10.0, 7.0),
        ({"startup_grace_seconds": "120"}, 20.0, 120.0),
    ],
    ids=[
        "default-5s",
        "period-1s",
        "period-10s",
        "period-200ms",
        "explicit-hang",
        "explicit-both",
        "explicit-grace",
    ],
)
def test_derived_hang_timeout_and_startup_grace(
    values: dict[str, str | None], hang: float, grace: float
) -> None:
    settings = load_settings(values, {})
    assert settings.hang_timeout == pytest.approx(hang)
    assert settings.startup_grace == pytest.approx(grace)


def test_hang_timeout_of_exactly_two_periods_is_accepted() -> None:
    settings = load_settings({"period_seconds": "5", "hang_timeout_seconds": "10"}, {})
    assert settings.hang_timeout == 10.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("InstanceId", (("InstanceId",),)),
        (" InstanceId , InstanceType ", (("InstanceId", "InstanceType"),)),
        ("ClusterName,ServiceName;InstanceId", (("ClusterName", "ServiceName"), ("InstanceId",))),
        (",".join(sorted(KNOWN_DIMENSIONS)), (tuple(sorted(KNOWN_DIMENSIONS)),)),
    ],
    ids=["one", "spaces-trimmed", "two-sets", "every-known-name"],
)
def test_dimensions(raw: str, expected: tuple[tuple[str, ...], ...]) -> None:
    assert load_settings({"dimensions": raw}, {}).dimensions == expected


# -- config file ----------------------------------------------------------------------------------


def test_read_toml_config_file(tmp_path: Path) -> None:
    path = tmp_path / "emf-neuron.toml"
    path.write_text(
        'namespace = "Team/Neuron"\nperiod-seconds = 2\npublish_interval_seconds = 30.5\n'
        'monitor_command = ["nm", "-c", "x y"]\n',
        encoding="utf-8",
    )
    values = read_config_file(path)
    assert values == {
        "namespace": "Team/Neuron",
        "period_seconds": 2,
        "publish_interval_seconds": 30.5,
        "monitor_command": ["nm", "-c", "x y"],
    }
    settings = load_settings({}, {}, values)
    assert (settings.period_seconds, settings.monitor_command) == (2.0, ("nm", "-c", "x y"))


def test_read_json_config_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"profile": "minimal", "max-line-bytes": 65536}', encoding="utf-8")
    assert read_config_file(path) == {"profile": "minimal", "max_line_bytes": 65536}


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.toml", b"namespace = \n"),
        ("broken.json", b'{"namespace": '),
        ("list.json", b'["namespace"]'),
        ("scalar.json", b"5"),
        ("latin1.toml", b'namespace = "caf\xe9"\n'),
        ("nan.json", b"NaN"),
    ],
    ids=["broken-toml", "broken-json", "json-list", "json-scalar", "not-utf8", "json-nan"],
)
def test_broken_config_file_raises_config_error(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="--config") as info:
        read_config_file(path)
    assert str(path) in str(info.value)


def test_deeply_nested_json_config_file_raises_config_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000)
    with pytest.raises(ConfigError, match="--config"):
        read_config_file(path)


def test_missing_config_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        read_config_file(tmp_path / "absent.toml")


# -- the CLI (in process; every case stops before anything starts) ---------------------------------


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        (["--period-seconds", "5x"], {}),
        (["run", "--profile", "huge"], {}),
        (["--period-seconds", "5", "--hang-timeout-seconds", "1"], {}),
        ([], {"EMF_NEURON_NAMESPACE": "bad namespace"}),
        (["demo", "--max-line-bytes", "12"], {}),
        (["--config", "/nonexistent/emf-neuron.toml"], {}),
        ([], {"EMF_NEURON_CONFIG": "/nonexistent/emf-neuron.json"}),
    ],
    ids=[
        "bad-duration-flag",
        "unknown-profile",
        "hang-under-two-periods",
        "bad-env",
        "demo-bad-flag-value",
        "missing-config-file",
        "missing-config-file-from-env",
    ],
)
def test_cli_bad_setting_exits_78_with_one_line(
    argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # when
    code = main(argv, environ=environ)
    # then
    out, err = capsys.readouterr()
    assert code == EXIT_CONFIG == 78
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("emf-neuron: configuration error: ")


def test_cli_bad_config_file_content_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text("period_seconds = -5\n", encoding="utf-8")
    assert main(["--config", str(path)], environ={}) == 78
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--period-seconds" in err


@pytest.mark.parametrize(
    "argv",
    [["--no-such-flag"], ["run", "--bogus", "1"], ["--period-seconds"], ["demo", "--namespace"]],
    ids=["unknown-flag", "unknown-flag-after-command", "missing-value", "demo-missing-value"],
)
def test_cli_bad_usage_exits_64_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv, environ={})
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE == 64
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("emf-neuron: usage error: ")


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--version"], environ={})
    out, err = capsys.readouterr()
    assert code == EXIT_OK == 0
    assert out == f"emf-neuron {__version__}\n"
    assert err == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], "--version"),
        (["-h"], "COMMAND"),
        (["run", "--help"], "EMF_NEURON_HANG_TIMEOUT_SECONDS"),
        (["demo", "--help"], "simulator"),
    ],
    ids=["long", "short", "run", "demo"],
)
def test_cli_help(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv, environ={})
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("usage: emf-neuron")
    assert expected in out
    assert err == ""


# -- generated neuron-monitor configuration --------------------------------------------------------


def _groups(config: dict[str, object]) -> tuple[list[str], list[str]]:
    runtimes = config["neuron_runtimes"]
    assert isinstance(runtimes, list)
    (entry,) = runtimes
    assert entry["tag_filter"] == ".*"
    system = config.get("system_metrics", [])
    assert isinstance(system, list)
    return [g["type"] for g in entry["metrics"]], [g["type"] for g in system]


def _metrics_of(profile: str, **flags: str) -> frozenset[str]:
    return load_settings({"profile": profile, **flags}, {}).metrics


@pytest.mark.parametrize(
    ("metrics", "runtime", "system"),
    [
        (_metrics_of("minimal"), ["neuroncore_counters"], []),
        (
            _metrics_of("standard"),
            ["neuroncore_counters", "memory_used", "execution_stats"],
            ["neuron_hw_counters"],
        ),
        (frozenset({"ExecutionLatencyP99"}), ["execution_stats"], []),
        (
            frozenset({"HardwareEccErrorsCorrected"}),
            ["neuroncore_counters"],
            ["neuron_hw_counters"],
        ),
        (frozenset({"NeuronCoreMemoryUsed"}), ["memory_used"], []),
        (frozenset({"MonitorUp", "ReportErrors"}), ["neuroncore_counters"], []),
        (frozenset(), ["neuroncore_counters"], []),
        (frozenset({"NoSuchMetric"}), ["neuroncore_counters"], []),
    ],
    ids=[
        "minimal",
        "standard",
        "latency-only",
        "ecc-only-still-lists-runtimes",
        "core-memory-only",
        "health-only",
        "nothing",
        "unknown-metric-ignored",
    ],
)
def test_monitor_config_requests_only_needed_groups(
    metrics: frozenset[str], runtime: list[str], system: list[str]
) -> None:
    assert _groups(monitor_config(5.0, metrics)) == (runtime, system)


@pytest.mark.parametrize("profile", ["minimal", "standard", "full"])
def test_monitor_config_never_requests_per_runtime_vcpu(profile: str) -> None:
    runtime, system = _groups(monitor_config(5.0, _metrics_of(profile)))
    assert "neuron_runtime_vcpu_usage" not in runtime + system


@pytest.mark.parametrize("profile", ["minimal", "standard"])
def test_monitor_config_never_requests_container_blind_host_groups(profile: str) -> None:
    _, system = _groups(monitor_config(5.0, _metrics_of(profile)))
    assert "vcpu_usage" not in system
    assert "memory_info" not in system


def test_host_groups_only_when_a_host_metric_asks_for_them() -> None:
    _, with_host = _groups(monitor_config(5.0, _metrics_of("full")))
    excluded = _metrics_of("full", exclude_metrics="HostVcpuUsage,HostMemoryUsed")
    _, without_host = _groups(monitor_config(5.0, excluded))
    assert {"vcpu_usage", "memory_info"} <= set(with_host)
    assert not {"vcpu_usage", "memory_info"} & set(without_host)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (5.0, "5s"),
        (1, "1s"),
        (60, "60s"),
        (0.2, "200ms"),
        (0.05, "50ms"),
        (1.5, "1500ms"),
        (2.25, "2250ms"),
        (0.001, "1ms"),
    ],
    ids=["5", "5.0", "1", "60", "0.2", "0.05", "1.5", "2.25", "0.001"],
)
def test_format_period(seconds: float, text: str) -> None:
    assert format_period(seconds) == text
    assert monitor_config(seconds, frozenset())["period"] == text


def test_an_accepted_period_never_becomes_a_zero_duration() -> None:
    try:
        settings = load_settings({"period_seconds": "0.0004", "publish_interval_seconds": "1"}, {})
    except ConfigError:
        return
    assert format_period(settings.period_seconds) != "0ms"
