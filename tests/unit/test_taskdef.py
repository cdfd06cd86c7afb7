"""The example ECS task definitions are valid API input and keep the sidecar's hardening.

``taskdef.json`` and every ``deploy/*taskdef*.json`` are checked against the input shape of
``RegisterTaskDefinition`` in botocore's own ECS service model, so a misspelled, misplaced or
mistyped key fails here rather than at ``aws ecs register-task-definition``. botocore's
``ParamValidator`` checks names, nesting, types and ranges but not enum values, so those are checked
from the same model. The hardening tests pin the settings README.md ("Deploy on ECS") explains.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import botocore.session
import botocore.validate
import pytest
from support import REPO

from emf_neuron import __version__
from emf_neuron.cli import main
from emf_neuron.config import Settings, env_name

TASKDEF = REPO / "taskdef.json"
DEPLOY_TASKDEFS = sorted((REPO / "deploy").glob("*taskdef*.json"))
ALL_TASKDEFS = [TASKDEF, *DEPLOY_TASKDEFS]
DOCKERFILE = REPO / "Dockerfile"
SIDECAR = "emf-neuron"
ECS_MAX_STOP_TIMEOUT = 120
ECS_MIN_RESTART_ATTEMPT_PERIOD = 60
KNOWN_ENV = {env_name(f.name) for f in fields(Settings)} | {"EMF_NEURON_CONFIG"}

TaskDef = dict[str, Any]


@functools.cache
def register_input_shape() -> Any:
    """The ``RegisterTaskDefinition`` input shape of botocore's bundled ECS model."""
    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def _enum_errors(value: object, shape: Any, path: str) -> list[str]:
    """Values outside a model enum, which botocore's ParamValidator does not report."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return [
            error
            for key, item in value.items()
            if key in shape.members
            for error in _enum_errors(item, shape.members[key], f"{path}.{key}")
        ]
    if kind == "list" and isinstance(value, list):
        return [
            error
            for index, item in enumerate(value)
            for error in _enum_errors(item, shape.member, f"{path}[{index}]")
        ]
    if kind == "map" and isinstance(value, dict):
        return [
            error
            for key, item in value.items()
            for error in _enum_errors(item, shape.value, f"{path}.{key}")
        ]
    enum = list(getattr(shape, "enum", []) or [])
    if enum and value not in enum:
        return [f"Invalid value for {path.lstrip('.')}: {value!r}, valid values: {enum}"]
    return []


def validation_errors(params: TaskDef) -> str:
    """Every problem the ECS API model finds in ``params``; empty when it is valid input."""
    shape = register_input_shape()
    report = botocore.validate.ParamValidator().validate(params, shape)
    problems = [str(report.generate_report())] if report.has_errors() else []
    problems += _enum_errors(params, shape, "")
    return "\n".join(problems)


def load(path: Path) -> TaskDef:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def container(taskdef: TaskDef, name: str) -> dict[str, Any]:
    matches = [c for c in taskdef["containerDefinitions"] if c["name"] == name]
    assert len(matches) == 1, f"expected one container named {name!r}"
    found: dict[str, Any] = matches[0]
    return found


def sidecar(path: Path) -> dict[str, Any]:
    return container(load(path), SIDECAR)


def dockerfile_arg(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert match is not None, f"Dockerfile has no ARG {name}=<default>"
    return match.group(1)


def default_stop_timeout() -> float:
    (field,) = (f for f in fields(Settings) if f.name == "stop_timeout_seconds")
    assert isinstance(field.default, float)
    return field.default


ids = [str(p.relative_to(REPO)) for p in ALL_TASKDEFS]
every_taskdef = pytest.mark.parametrize("path", ALL_TASKDEFS, ids=ids)


# --- the ECS API model ---------------------------------------------------------------------------


def test_deploy_has_task_definitions() -> None:
    assert DEPLOY_TASKDEFS, "deploy/*taskdef*.json matched nothing: the glob or the files moved"


@every_taskdef
def test_task_definition_is_valid_register_task_definition_input(path: Path) -> None:
    errors = validation_errors(load(path))
    assert not errors, f"{path.name} is not valid RegisterTaskDefinition input:\n{errors}"


def _misspell_init_process(td: TaskDef) -> None:
    params = container(td, SIDECAR)["linuxParameters"]
    params["initProcessEnable"] = params.pop("initProcessEnabled")


def _stop_timeout_as_string(td: TaskDef) -> None:
    container(td, SIDECAR)["stopTimeout"] = "25"


def _tmpfs_outside_linux_parameters(td: TaskDef) -> None:
    sidecar_def = container(td, SIDECAR)
    sidecar_def["tmpfs"] = sidecar_def["linuxParameters"].pop("tmpfs")


def _device_permission_not_in_enum(td: TaskDef) -> None:
    container(td, SIDECAR)["linuxParameters"]["devices"][0]["permissions"] = ["rw"]


def _log_driver_not_in_enum(td: TaskDef) -> None:
    container(td, SIDECAR)["logConfiguration"]["logDriver"] = "awslog"


def _restart_period_as_string(td: TaskDef) -> None:
    container(td, SIDECAR)["restartPolicy"]["restartAttemptPeriod"] = "60"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            _misspell_init_process,
            'Unknown parameter in {c}.linuxParameters: "initProcessEnable"',
            id="misspelled-key",
        ),
        pytest.param(
            _stop_timeout_as_string,
            "Invalid type for parameter {c}.stopTimeout",
            id="wrong-type",
        ),
        pytest.param(
            _tmpfs_outside_linux_parameters,
            'Unknown parameter in {c}: "tmpfs"',
            id="wrong-level",
        ),
        pytest.param(
            _device_permission_not_in_enum,
            "Invalid value for {c}.linuxParameters.devices[0].permissions[0]: 'rw'",
            id="enum-permission",
        ),
        pytest.param(
            _log_driver_not_in_enum,
            "Invalid value for {c}.logConfiguration.logDriver: 'awslog'",
            id="enum-log-driver",
        ),
        pytest.param(
            _restart_period_as_string,
            "Invalid type for parameter {c}.restartPolicy.restartAttemptPeriod",
            id="wrong-type-nested",
        ),
    ],
)
def test_validation_rejects_a_broken_copy(mutate: Callable[[TaskDef], None], expected: str) -> None:
    original = load(TASKDEF)
    assert validation_errors(original) == "", "taskdef.json must be valid to begin with"
    names = [c["name"] for c in original["containerDefinitions"]]
    broken = copy.deepcopy(original)
    mutate(broken)
    errors = validation_errors(broken)
    assert expected.format(c=f"containerDefinitions[{names.index(SIDECAR)}]") in errors, errors


# --- hardening of the sidecar --------------------------------------------------------------------


def test_sidecar_is_not_essential_next_to_the_application() -> None:
    taskdef = load(TASKDEF)
    assert container(taskdef, SIDECAR)["essential"] is False
    others = [c for c in taskdef["containerDefinitions"] if c["name"] != SIDECAR]
    assert others, "taskdef.json must show the application container the sidecar serves"
    assert all(c["essential"] is True for c in others)


def test_sidecar_alone_in_a_daemon_task_is_essential() -> None:
    for path in DEPLOY_TASKDEFS:
        taskdef = load(path)
        if len(taskdef["containerDefinitions"]) == 1:
            assert container(taskdef, SIDECAR)["essential"] is True, path.name


def test_sidecar_sees_the_devices_of_the_application() -> None:
    taskdef = load(TASKDEF)
    wanted = {
        d["hostPath"]
        for c in taskdef["containerDefinitions"]
        for d in c.get("linuxParameters", {}).get("devices", [])
    }
    seen = {d["hostPath"] for d in container(taskdef, SIDECAR)["linuxParameters"]["devices"]}
    assert wanted == seen


@every_taskdef
def test_sidecar_devices_are_neuron_devices_read_write_only(path: Path) -> None:
    devices = sidecar(path)["linuxParameters"]["devices"]
    assert devices
    for device in devices:
        assert re.fullmatch(r"/dev/neuron\d+", device["hostPath"])
        assert device["containerPath"] == device["hostPath"]
        assert sorted(device["permissions"]) == ["read", "write"]


@every_taskdef
def test_init_process_reaps_and_forwards_signals(path: Path) -> None:
    assert sidecar(path)["linuxParameters"]["initProcessEnabled"] is True


@every_taskdef
def test_root_filesystem_is_read_only_with_a_small_tmpfs_tmp(path: Path) -> None:
    definition = sidecar(path)
    assert definition["readonlyRootFilesystem"] is True
    (tmp,) = (t for t in definition["linuxParameters"]["tmpfs"] if t["containerPath"] == "/tmp")
    assert 1 <= tmp["size"] <= 64  # MiB, counted against the container's memory
    assert {"noexec", "nosuid", "nodev"} <= set(tmp["mountOptions"])


@every_taskdef
def test_runs_as_the_image_user_with_the_device_group(path: Path) -> None:
    match = re.fullmatch(r"(\d+):(\d+)", sidecar(path)["user"])
    assert match is not None, "user must be numeric uid:gid (the gid owns /dev/neuron*)"
    uid, gid = match.groups()
    assert int(uid) != 0
    assert int(gid) != 0
    assert uid == dockerfile_arg("APP_UID")
    assert gid == dockerfile_arg("NEURON_GID")


@every_taskdef
def test_no_privilege_and_every_capability_dropped(path: Path) -> None:
    definition = sidecar(path)
    assert definition.get("privileged", False) is False
    capabilities = definition["linuxParameters"]["capabilities"]
    assert capabilities["drop"] == ["ALL"]
    assert capabilities.get("add", []) == []
    assert "no-new-privileges" in definition.get("dockerSecurityOptions", [])
    assert "IPC_LOCK" not in path.read_text(encoding="utf-8")


@every_taskdef
def test_no_task_role_and_no_open_port(path: Path) -> None:
    taskdef = load(path)
    assert "taskRoleArn" not in taskdef, "EMF on stdout needs no IAM permission"
    assert taskdef["executionRoleArn"]
    definition = container(taskdef, SIDECAR)
    assert "portMappings" not in definition
    assert "healthCheck" not in definition, "health is the MonitorUp metric, not a check"


@every_taskdef
def test_awslogs_is_non_blocking_with_an_explicit_buffer(path: Path) -> None:
    log = sidecar(path)["logConfiguration"]
    assert log["logDriver"] == "awslogs"
    options = log["options"]
    assert options["mode"] == "non-blocking"
    assert re.fullmatch(r"\d+[kmg]?", options["max-buffer-size"])
    for key in ("awslogs-group", "awslogs-region", "awslogs-stream-prefix"):
        assert options[key]


@every_taskdef
def test_stop_timeout_leaves_room_for_the_sidecars_own_stop_budget(path: Path) -> None:
    stop_timeout = sidecar(path)["stopTimeout"]
    assert default_stop_timeout() < stop_timeout <= ECS_MAX_STOP_TIMEOUT


@every_taskdef
def test_restart_policy_is_a_second_line_of_defence(path: Path) -> None:
    policy = sidecar(path)["restartPolicy"]
    assert policy["enabled"] is True
    assert ECS_MIN_RESTART_ATTEMPT_PERIOD <= policy["restartAttemptPeriod"] <= 1800


@every_taskdef
def test_environment_names_only_real_settings(path: Path) -> None:
    environment = {e["name"]: e["value"] for e in sidecar(path)["environment"]}
    assert environment["EMF_NEURON_NAMESPACE"] == "NeuronMonitor"
    unknown = {n for n in environment if n.startswith("EMF_NEURON_")} - KNOWN_ENV
    assert not unknown, f"not settings of emf-neuron (a typo is silently ignored): {unknown}"


@every_taskdef
def test_environment_is_a_valid_configuration(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = {e["name"]: e["value"] for e in sidecar(path)["environment"]}
    code = main(["plan", "--instance-type", "inf2.xlarge"], environ=environment)
    assert code == 0, capsys.readouterr().err


@every_taskdef
def test_image_tag_is_this_version(path: Path) -> None:
    assert sidecar(path)["image"].endswith(f"/emf-neuron:{__version__}")


def test_dockerfile_version_label_is_this_version() -> None:
    assert dockerfile_arg("VERSION") == __version__
