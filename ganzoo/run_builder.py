"""One place builds a run: :func:`build_run_spec`, used by ``ganzoo train``, ``bench`` and ``ablate``.

Every field a command leaves unset (``None``) comes from the settings: the defaults table
overlaid by the bench preset (:mod:`ganzoo.run_settings`), so a model is conditioned,
checkpointed and logged alike whichever command trains it.
"""

from __future__ import annotations

from typing import Any, Mapping

from ganzoo.budget import parse_budget
from ganzoo.errors import UsageError
from ganzoo.run_settings import run_settings
from ganzoo.runs import RunSpec


def build_run_spec(model: str, overrides: Mapping[str, Any] | None = None, *, settings: Mapping[str, Any] | None = None,
                   preset: str | None = None, seed: int = 0, dataset: str | None = None,
                   dataset_options: Mapping[str, Any] | None = None, text_encoder: str | None = None,
                   text_norm: str | None = None, text_norm_dim: int | None = None, num_workers: int | None = None,
                   checkpoint_every: int | None = None, log_every: int | None = None,
                   speed: Mapping[str, Any] | None = None, sync_bn: bool = False, steps: int | None = None,
                   epochs: int | None = None, budget: str | None = None,
                   preset_budget: bool = False) -> RunSpec:
    """A :class:`RunSpec` from what the user gave, the rest from ``settings`` (default: the
    defaults table overlaid by ``preset``'s bench preset, when there is one).

    ``budget`` is ``90s``/``4m`` (wall clock) or ``200k`` (images seen). With
    ``preset_budget`` (bench, ablate) a request without any budget takes the preset's and
    fails when the preset has none.
    """
    table = run_settings(preset) if settings is None else {**run_settings(None), **settings}
    preset = preset or table["preset"]
    if preset_budget and not (steps or epochs or budget):
        budget = table.get("budget") or None
        if not budget:
            raise UsageError(f"preset {preset!r} sets no budget: give --steps, --epochs or --budget")
    spec = RunSpec(model=model, preset=preset, overrides=dict(overrides or {}), dataset=dataset or table["dataset"],
                   dataset_options=dict(dataset_options or {}), text_encoder=text_encoder,
                   text_norm=text_norm or table["text_norm"], text_norm_dim=int(_first(text_norm_dim, table["text_norm_dim"])),
                   seed=seed, num_workers=_first(num_workers, table["num_workers"]),
                   checkpoint_every=int(_first(checkpoint_every, table["checkpoint_every"])),
                   log_every=int(_first(log_every, table["log_every"])), speed=dict(speed or {}), sync_bn=sync_bn)
    return apply_budget(spec, steps, epochs, budget)


def _first(value, default):
    return default if value is None else value


def apply_budget(spec: RunSpec, steps, epochs, budget) -> RunSpec:
    """Set ``spec``'s budget from ``--steps``, ``--epochs`` and ``--budget`` (checked here)."""
    if steps is not None and steps <= 0:
        raise UsageError(f"--steps must be a positive number of training steps, got {steps}")
    if epochs is not None and epochs <= 0:
        raise UsageError(f"--epochs must be positive, got {epochs}")
    spec.steps, spec.epochs = steps, epochs
    if budget:
        kind, value = parse_budget(budget)
        if kind == "time":
            spec.time_budget_s = value
        else:
            spec.images_budget = int(value)
    return spec
