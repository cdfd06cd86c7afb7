"""Load aws-embedded-metrics' pure modules without running its package ``__init__``.

The package ``__init__`` imports ``MetricsLogger`` and ``metric_scope``, whose environment
detection imports aiohttp: 24 MiB of RSS and 0.2 s of start-up (measured on Python 3.11, 3.5.0)
for code the sidecar never runs. Registering the package from its spec *without executing it*
lets Python import the submodules we use, which need nothing of the ``__init__``. If the package
was already imported normally, or its layout ever changes, the plain import below still works.
Only ``emf`` imports from here.
"""

from __future__ import annotations

import importlib.util
import sys


def _register_package_without_init(name: str = "aws_embedded_metrics") -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return
    sys.modules[name] = importlib.util.module_from_spec(spec)  # not executed: no aiohttp


_register_package_without_init()

from aws_embedded_metrics.config import get_config  # noqa: E402
from aws_embedded_metrics.logger.metrics_context import MetricsContext  # noqa: E402
from aws_embedded_metrics.serializers.log_serializer import LogSerializer  # noqa: E402
from aws_embedded_metrics.storage_resolution import StorageResolution  # noqa: E402

__all__ = ["LogSerializer", "MetricsContext", "StorageResolution", "get_config"]
