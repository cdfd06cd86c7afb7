"""ECS task metadata (endpoint v4), read once at start-up to name the task in dimensions.

``parse_task`` is pure. ``fetch_task_metadata`` is the only HTTP client in the package: stdlib
``urllib``, a short timeout, one retry, and ``None`` (logged once) when anything is wrong, so the
sidecar falls back to ``InstanceId`` instead of failing. Off ECS it does nothing.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from emf_neuron.reader import clean_text

logger = logging.getLogger(__name__)
METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"


@dataclass(frozen=True, slots=True)
class TaskMetadata:
    """What the task knows about itself; every value already a valid dimension value."""

    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def default_dimensions(self) -> tuple[str, ...]:
        """ClusterName + ServiceName, or ClusterName + TaskFamily for a task outside a service."""
        if "ServiceName" in self.labels:
            return ("ClusterName", "ServiceName")
        return ("ClusterName", "TaskFamily")


def parse_task(task: object, container: object = None) -> TaskMetadata:
    """Labels from the ``/task`` response (and the container's own response, if any).

    Raises:
        ValueError: the response is not an object or names no cluster.
    """
    if not isinstance(task, dict) or not isinstance(task.get("Cluster"), str):
        raise ValueError("not an ECS task metadata object")  # noqa: TRY004 - bad input, not a bug
    arn = str(task.get("TaskARN", ""))
    raw = {
        "ClusterName": task["Cluster"].rsplit("cluster/", 1)[-1],
        "ServiceName": task.get("ServiceName"),
        "TaskFamily": task.get("Family"),
        "TaskRevision": task.get("Revision"),
        "TaskId": arn.rsplit("/", 1)[-1] if arn else None,
        "TaskArn": arn or None,
        "LaunchType": task.get("LaunchType"),
        "AvailabilityZone": task.get("AvailabilityZone"),
        "ContainerName": container.get("Name") if isinstance(container, dict) else None,
    }
    labels = {key: text for key, value in raw.items() if (text := clean_text(value)) is not None}
    if "ClusterName" not in labels:
        raise ValueError("the cluster name is not a usable dimension value")
    return TaskMetadata(labels)


def fetch_task_metadata(
    environ: Mapping[str, str], timeout_seconds: float = 1.0, attempts: int = 2
) -> TaskMetadata | None:
    """Task metadata when running on ECS, else None (also None, logged, if it cannot be read)."""
    base = environ.get(METADATA_ENV)
    if not base:
        return None
    problem = "no attempt made"
    for attempt in range(attempts):
        try:
            task = _get_json(base.rstrip("/") + "/task", timeout_seconds)
            container = _get_json(base, timeout_seconds)
            return parse_task(task, container)
        except (
            OSError,
            ValueError,
            http.client.HTTPException,
        ) as exc:  # URLError, timeouts: OSError
            problem = str(exc) or type(exc).__name__
        if attempt + 1 < attempts:
            time.sleep(0.2)
    logger.warning(
        "cannot read ECS task metadata (%s); dimensions fall back to InstanceId", problem
    )
    return None


def _get_json(url: str, timeout_seconds: float) -> object:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{METADATA_ENV} is not an http URL")
    with urllib.request.urlopen(url, timeout=timeout_seconds) as response:  # noqa: S310 - checked
        return json.loads(response.read(1024 * 1024))
