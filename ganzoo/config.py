"""Configs and presets: plain data (TOML), validated against a model's defaults.

A plugin ships a ``presets.toml``::

    [defaults]          # every key the model accepts, with its default value
    gf_dim = 128
    [presets.cpu]       # named presets override defaults
    gf_dim = 16
    [presets."paper.coco"]   # dataset-specific variant of a preset, chosen for --dataset coco
    extends = "paper"
    gf_dim = 192

User overrides (``key=value`` strings from the CLI, or Python values) are checked: an
unknown key names the nearest valid one; a value is coerced to the type of its default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping

from ganzoo.errors import UnknownKeyError, UnknownNameError, UsageError


def load_presets(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Read ``(defaults, presets)`` from a plugin's TOML file."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return dict(data.get("defaults", {})), {k: dict(v) for k, v in data.get("presets", {}).items()}


def coerce(key: str, value: Any, default: Any) -> Any:
    """Turn a CLI string (or any value) into the type of `default`, or explain why not."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        if isinstance(default, bool) and not isinstance(value, bool):
            raise UsageError(f"config key {key!r} expects true/false, got {value!r}")
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
            if value != int(value):
                raise UsageError(f"config key {key!r} expects an integer, got {value!r}")
            return int(value)
        if default is None and isinstance(value, str):
            return _guess(value)
        return value
    text = value.strip()
    try:
        if isinstance(default, bool):
            low = text.lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            number = float(text)
            if number != int(number):
                raise ValueError
            return int(number)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, list):
            return [_guess(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UsageError(f"config key {key!r} expects {type(default).__name__}, got {value!r}") from None
    return value


def _guess(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"config override {item!r} must look like key=value")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def parse_model_variant(text: str) -> tuple[str, dict[str, str]]:
    """``"stackgan:ca=false,gf_dim=8"`` -> ``("stackgan", {"ca": "false", "gf_dim": "8"})``.

    The model name must be registered: an unknown one fails here, listing the valid ones.
    """
    from ganzoo.registry import get_registry

    name, _, rest = text.strip().partition(":")
    overrides = parse_overrides([p for p in rest.split(",") if p.strip()]) if rest else {}
    get_registry().get("model", name)
    return name, overrides


def preset_chain(presets: Mapping[str, Mapping[str, Any]], name: str, dataset: str | None,
                 what: str) -> list[dict[str, Any]]:
    """The preset tables to apply, most general first (``extends`` is followed)."""
    chosen = name
    if dataset and f"{name}.{dataset}" in presets:
        chosen = f"{name}.{dataset}"
    if chosen not in presets:
        valid = sorted({p.split(".")[0] for p in presets})
        raise UnknownNameError(f"preset of {what}", name, valid)
    chain, seen = [], set()
    while chosen is not None:
        if chosen in seen:
            raise UsageError(f"preset {chosen!r} of {what} extends itself")
        seen.add(chosen)
        table = dict(presets[chosen])
        parent = table.pop("extends", None)
        chain.append(table)
        chosen = parent
    return chain[::-1]


def resolve_config(defaults: Mapping[str, Any], presets: Mapping[str, Mapping[str, Any]] | None = None,
                   preset: str | None = None, overrides: Mapping[str, Any] | None = None,
                   dataset: str | None = None, what: str = "model") -> dict[str, Any]:
    """defaults <- preset (and what it extends) <- overrides, every key checked."""
    config = dict(defaults)
    layers = preset_chain(presets or {}, preset, dataset, what) if preset else []
    for layer in layers + [dict(overrides or {})]:
        for key, value in layer.items():
            if key not in defaults:
                raise UnknownKeyError(what, key, defaults)
            config[key] = coerce(key, value, defaults[key])
    return config
