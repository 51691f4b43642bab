"""Reference figures (e.g. a paper's own ablation) come from the model plugin, never from the core.

A model class may declare ``reference_ablations = {config key: table}``, each table a dict
with ``title``, ``note`` (say there why the figures are not comparable) and ``rows`` (a list of
flat dicts). A report shows the table of the key its arms differ in, marked as a reference.
"""

from __future__ import annotations

from typing import Any, Mapping

#: the default of ``paper_reference``: ask the arms' model plugin
FROM_MODEL = "from the model plugin"
NOT_COMPARABLE = "Reference figures from the literature, not comparable to these numbers"


def reference_for(model: str, key: str | None) -> Mapping[str, Any] | None:
    """The model plugin's reference figures for an ablation of ``key``, if it declares any."""
    from ganzoo.registry import get_registry

    if not key:
        return None
    try:
        cls = get_registry().model(model)
    except Exception:  # a report builds without the plugin: no reference then
        return None
    return (getattr(cls, "reference_ablations", None) or {}).get(key)


def _overrides(variant: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in (variant or "").split(",") if "=" in item)


def ablated_key(arm_a: tuple[str, str], arm_b: tuple[str, str]) -> str | None:
    """The one config key two arms of the same model differ in (``ca`` for ``ca=false`` against the
    default), or None when the models differ or several keys do."""
    (model_a, variant_a), (model_b, variant_b) = arm_a, arm_b
    if model_a != model_b:
        return None
    a, b = _overrides(variant_a), _overrides(variant_b)
    differ = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    return differ.pop() if len(differ) == 1 else None


def reference_for_arms(arm_a: tuple[str, str], arm_b: tuple[str, str]) -> Mapping[str, Any] | None:
    return reference_for(arm_a[0], ablated_key(arm_a, arm_b))
