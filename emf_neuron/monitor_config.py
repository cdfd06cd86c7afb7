"""The neuron-monitor configuration generated from the settings; pure, no I/O.

Only the groups the selected metrics need are asked for, so the monitor does less work. The
groups that are wrong inside a container (host vCPU and memory: ``/proc`` is the container's) are
requested only when a ``full``-profile host metric asks for them; per-runtime vCPU never is.
"""

from __future__ import annotations

from collections.abc import Iterable

from emf_neuron.catalogue import SPECS

_RUNTIME_GROUPS = ("neuroncore_counters", "memory_used", "execution_stats")
_SYSTEM_GROUPS = ("neuron_hw_counters", "vcpu_usage", "memory_info")


def format_period(seconds: float) -> str:
    """A neuron-monitor (Go) duration: 5 -> "5s", 0.2 -> "200ms"."""
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def monitor_config(period_seconds: float, metrics: Iterable[str]) -> dict[str, object]:
    """The JSON object to pass to ``neuron-monitor -c``."""
    wanted = {group for m in metrics if m in SPECS and (group := SPECS[m].group)}
    runtime = [{"type": g} for g in _RUNTIME_GROUPS if g in wanted]
    system = [{"type": g} for g in _SYSTEM_GROUPS if g in wanted]
    config: dict[str, object] = {"period": format_period(period_seconds)}
    # Always ask for the runtime list: per-core utilization needs it, and it is cheap when idle.
    config["neuron_runtimes"] = [
        {"tag_filter": ".*", "metrics": runtime or [{"type": "neuroncore_counters"}]}
    ]
    if system:
        config["system_metrics"] = system
    return config
