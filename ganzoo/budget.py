"""Parsing ``--budget``: wall-clock time (``90s``, ``4m``, ``1.5h``) or images seen (``200k``, ``2M``, ``5000``)."""

from __future__ import annotations

import re

from ganzoo.errors import UsageError

_TIME = {"s": 1, "m": 60, "h": 3600}
_COUNT = {"": 1, "k": 1_000, "m": 1_000_000}


def parse_budget(text: str) -> tuple[str, float]:
    """``"4m"`` -> ``("time", 240.0)``; ``"200k"`` -> ``("images", 200000)``."""
    raw = text.strip().lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|min|h|k|img|images|m)?", raw)
    if not m:
        raise UsageError(f"cannot read budget {text!r}: use a time like 90s, 4min, 1h or an image count like 200k, 2M")
    value, unit = float(m.group(1)), (m.group(2) or "")
    if value <= 0:
        raise UsageError(f"budget must be positive, got {text!r}")
    # 'm' alone means minutes when written in lower case after a number ('4m'); '2M' means millions.
    if unit == "m" and text.strip().endswith("M"):
        return "images", value * 1_000_000
    if unit in ("s", "sec"):
        return "time", value
    if unit in ("m", "min"):
        return "time", value * 60
    if unit == "h":
        return "time", value * 3600
    if unit in ("img", "images", ""):
        return "images", value
    return "images", value * _COUNT[unit]
