"""The attribute tables of the shapes dataset: value names, colours, geometry, combination codes.

An image is one shape on a plain background, fully described by five attributes. A
*combination* is one choice of every attribute, coded as a single integer so that
captions and held-out sets can be handled as integer tensors.
"""

from __future__ import annotations

import torch

#: attribute name -> value names, in the order of the integer codes
ATTRIBUTE_VALUES: dict[str, list[str]] = {
    "shape": ["circle", "square", "triangle", "diamond", "cross"],
    "colour": ["red", "green", "blue", "yellow", "purple", "orange", "cyan", "pink"],
    "size": ["small", "large"],
    "position": ["top left", "top centre", "top right",
                 "middle left", "centre", "middle right",
                 "bottom left", "bottom centre", "bottom right"],
    "background": ["white", "grey", "black"],
}
ATTRIBUTES: tuple[str, ...] = tuple(ATTRIBUTE_VALUES)

# Well separated RGB (every pair of shape colours >= 90 apart, every shape colour >= 110
# from every background, Euclidean in 0..255 RGB).
COLOUR_RGB: list[tuple[int, int, int]] = [
    (220, 30, 30), (30, 160, 50), (30, 70, 230), (245, 215, 30),
    (140, 40, 200), (250, 125, 15), (30, 205, 215), (250, 135, 200),
]
BACKGROUND_RGB: list[tuple[int, int, int]] = [(255, 255, 255), (128, 128, 128), (0, 0, 0)]

# Geometry, in fractions of the canvas side. A shape's "radius" is its circle radius;
# the other shapes scale from it to a similar visual area (see render.py).
RADIUS = (0.11, 0.155)          # small, large
GRID_CENTRES = (0.23, 0.5, 0.77)  # column / row centres of the 3x3 position grid
POSITION_JITTER = 0.025          # +- uniform offset of the centre, per axis
SIZE_JITTER = 0.06               # +- uniform relative change of the radius

_SIZES = [len(v) for v in ATTRIBUTE_VALUES.values()]
N_COMBINATIONS = 1
for _n in _SIZES:
    N_COMBINATIONS *= _n


def combination_code(attrs: dict[str, torch.Tensor]) -> torch.Tensor:
    """One integer per image (mixed radix over ATTRIBUTES, shape most significant)."""
    code = torch.zeros_like(torch.as_tensor(attrs[ATTRIBUTES[0]]), dtype=torch.long)
    for name, n in zip(ATTRIBUTES, _SIZES):
        code = code * n + torch.as_tensor(attrs[name], dtype=torch.long)
    return code


def decode_combination(code: torch.Tensor | int) -> dict[str, torch.Tensor]:
    """Inverse of :func:`combination_code`."""
    code = torch.as_tensor(code, dtype=torch.long).clone()
    out: dict[str, torch.Tensor] = {}
    for name, n in reversed(list(zip(ATTRIBUTES, _SIZES))):
        out[name] = code % n
        code = code // n
    return {name: out[name] for name in ATTRIBUTES}


def decode_combination_values(code: int) -> dict[str, int]:
    """:func:`decode_combination` for one plain int (fast path for caption tables)."""
    out: dict[str, int] = {}
    for name, n in reversed(list(zip(ATTRIBUTES, _SIZES))):
        code, out[name] = divmod(int(code), n)
    return {name: out[name] for name in ATTRIBUTES}


def check_attributes(attrs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Validate an attribute dict (all names, equal lengths, codes in range); returns LongTensors."""
    from ganzoo.errors import UsageError

    missing = [a for a in ATTRIBUTES if a not in attrs]
    if missing:
        raise UsageError(f"shapes attributes missing: {', '.join(missing)}; need {', '.join(ATTRIBUTES)}")
    out = {a: torch.as_tensor(attrs[a], dtype=torch.long).reshape(-1) for a in ATTRIBUTES}
    lengths = {len(v) for v in out.values()}
    if len(lengths) != 1:
        raise UsageError(f"shapes attributes have different lengths: {sorted(lengths)}")
    for a, v in out.items():
        n = len(ATTRIBUTE_VALUES[a])
        if len(v) and (int(v.min()) < 0 or int(v.max()) >= n):
            raise UsageError(f"shapes attribute {a!r} must be in 0..{n - 1}")
    return out
