"""The settings a run is built from: one defaults table, overlaid by a bench preset.

``run_defaults.toml`` holds the default of every run field a command may leave unset
(dataset, text standardisation, checkpoint interval, ...); ``bench_presets.toml`` holds the
bench presets (``cpu``, ``paper``), each overriding some defaults and adding the bench's own
settings (budget, metrics, evaluation samples). :func:`ganzoo.run_builder.build_run_spec`
reads them; so do the :class:`ganzoo.runs.RunSpec` field defaults.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

DEFAULTS_FILE = Path(__file__).with_name("run_defaults.toml")
PRESETS_FILE = Path(__file__).with_name("bench_presets.toml")


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    with open(DEFAULTS_FILE, "rb") as fh:
        return tomllib.load(fh)


def run_defaults() -> dict[str, Any]:
    """A copy of the defaults table."""
    return {k: (list(v) if isinstance(v, list) else v) for k, v in _defaults().items()}


def run_default(key: str) -> Any:
    return run_defaults()[key]


def bench_presets() -> dict[str, dict[str, Any]]:
    """The bench presets as written (without the defaults)."""
    with open(PRESETS_FILE, "rb") as fh:
        return tomllib.load(fh)


def bench_preset(name: str) -> dict[str, Any]:
    """Defaults overlaid by the bench preset for a model preset name (``cpu-reference`` uses
    ``cpu``'s, ``paper.coco`` uses ``paper``'s); an unknown family is an error naming the valid ones."""
    presets = bench_presets()
    family = name.split("-")[0].split(".")[0]
    table = name if name in presets else family
    if table not in presets:
        from ganzoo.errors import UnknownNameError

        raise UnknownNameError("bench preset", name, presets)
    return {**run_defaults(), **presets[table], "preset": name}


def run_settings(preset: str | None) -> dict[str, Any]:
    """:func:`bench_preset` when ``preset`` has one, else the defaults alone (``ganzoo train
    --preset tiny`` trains with a model preset that no bench preset covers)."""
    try:
        return bench_preset(preset or run_default("preset"))
    except Exception:
        return run_defaults()
