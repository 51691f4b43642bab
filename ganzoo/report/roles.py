"""Which metric plays which part in a report: the cost columns, the per-attribute accuracy section.

A metric declares it (``Metric.role`` and ``Metric.attributes``, see :data:`ganzoo.metrics.ROLES`)
and :func:`ganzoo.metrics.evaluate` records it in ``metric_info[name]["report"]``, so a report
needs no plugin installed; for rows recorded before that, the installed plugins' declarations
are used. The report itself knows no metric by name.
"""

from __future__ import annotations

import pandas as pd

from ganzoo.metrics import ROLE_ATTRIBUTE_ACCURACY, ROLE_MEMORY_COST, ROLE_SAMPLE_COST, ROLE_TRAIN_COST

COST_ROLES = (ROLE_TRAIN_COST, ROLE_SAMPLE_COST, ROLE_MEMORY_COST)


def _declared_by_plugins() -> dict[str, dict]:
    try:
        from ganzoo.registry import get_registry

        entries = list(get_registry().entries["metric"].values())
    except Exception:  # a report must build without plugins
        return {}
    found = {}
    for entry in entries:
        role = getattr(entry.obj, "role", None)
        if isinstance(role, str):
            found[entry.name] = {"role": role, "attributes": list(getattr(entry.obj, "attributes", ()) or ())}
    return found


def declared_roles(runs: pd.DataFrame | None = None) -> dict[str, dict]:
    """Metric name -> ``{"role", "attributes"}``: what the rows recorded, over the installed plugins'."""
    found = _declared_by_plugins()
    infos = runs.get("metric_info", pd.Series(dtype=object)) if runs is not None else []
    for info in infos:
        for metric, entry in info.items() if isinstance(info, dict) else ():
            report = entry.get("report") if isinstance(entry, dict) else None
            if isinstance(report, dict) and isinstance(report.get("role"), str):
                found[str(metric)] = {"role": report["role"], "attributes": list(report.get("attributes") or [])}
    return found


def metrics_with_role(runs: pd.DataFrame | None, role: str) -> list[str]:
    return [name for name, declared in declared_roles(runs).items() if declared["role"] == role]


def cost_metrics(runs: pd.DataFrame | None) -> set[str]:
    """The metrics whose values the cost columns show (not repeated as other metrics)."""
    return {name for name, declared in declared_roles(runs).items() if declared["role"] in COST_ROLES}


def attribute_metric(runs: pd.DataFrame) -> tuple[str, list[str]] | None:
    """The recorded per-attribute accuracy metric (the first with values in ``runs``) and its attribute order."""
    for name, declared in declared_roles(runs).items():
        if declared["role"] == ROLE_ATTRIBUTE_ACCURACY and any(c.startswith(f"metric.{name}.") for c in runs.columns):
            return name, declared["attributes"]
    return None
