"""Vectorised, antialiased rendering of shape images at any square resolution.

Each shape is a signed distance field in canvas units (negative inside). A pixel's
coverage is a one-pixel linear ramp across the edge, ``clamp(0.5 - d * S, 0, 1)``,
which approximates box-filtered antialiasing without supersampling. Everything is
computed in canvas fractions, so an image with the same attributes and jitter looks
the same at every resolution.
"""

from __future__ import annotations

import math

import torch

from ganzoo.errors import UsageError
from ganzoo_shapes.attributes import (ATTRIBUTE_VALUES, BACKGROUND_RGB, COLOUR_RGB, GRID_CENTRES,
                                      RADIUS, check_attributes)

MIN_SIZE, MAX_SIZE = 16, 256
_PIXELS_PER_CHUNK = 1 << 22  # bounds the float working memory (~16 MiB per temporary)

# Shape proportions relative to the circle radius r: similar visual weight, and masks that
# differ in >= ~10 pixels between any two shapes even when small at 32 px.
SQUARE_HALF_SIDE = 1.0
DIAMOND_HALF_DIAGONAL = 1.25
TRIANGLE_CIRCUMRADIUS = 1.35
CROSS_ARM_HALF_LENGTH = 1.1
CROSS_ARM_HALF_WIDTH = 0.3


def check_size(size) -> int:
    """The side length as an int, or a UsageError naming the valid range."""
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise UsageError(f"shapes renders square images of {MIN_SIZE} to {MAX_SIZE} pixels; got {size!r}")
    return size


def _sd_circle(x, y, r):
    return torch.sqrt(x * x + y * y) - r


def _sd_square(x, y, r):
    return torch.maximum(x.abs(), y.abs()) - SQUARE_HALF_SIDE * r


def _sd_diamond(x, y, r):
    return (x.abs() + y.abs() - DIAMOND_HALF_DIAGONAL * r) / math.sqrt(2.0)


def _sd_triangle(x, y, r):
    """Upward equilateral triangle (image y grows downward), its bounding box centred."""
    big_r = TRIANGLE_CIRCUMRADIUS * r
    y = y - big_r / 4  # centroid sits a quarter of R below the box centre
    base = y - big_r / 2
    sides = 0.8660254037844386 * x.abs() - 0.5 * y - big_r / 2
    return torch.maximum(base, sides)


def _sd_cross(x, y, r):
    w, h = CROSS_ARM_HALF_WIDTH * r, CROSS_ARM_HALF_LENGTH * r
    ax, ay = x.abs(), y.abs()
    horizontal = torch.maximum(ax - h, ay - w)
    vertical = torch.maximum(ax - w, ay - h)
    return torch.minimum(horizontal, vertical)


_SDF = [_sd_circle, _sd_square, _sd_triangle, _sd_diamond, _sd_cross]
assert len(_SDF) == len(ATTRIBUTE_VALUES["shape"])


def geometry(attrs: dict[str, torch.Tensor], jitter: torch.Tensor | None = None):
    """Centre x, centre y and radius of each image, in canvas fractions (after jitter)."""
    pos = attrs["position"]
    centres = torch.tensor(GRID_CENTRES, dtype=torch.float32)
    cx, cy = centres[pos % 3], centres[pos // 3]
    r = torch.tensor(RADIUS, dtype=torch.float32)[attrs["size"]]
    if jitter is not None:
        jitter = torch.as_tensor(jitter, dtype=torch.float32).reshape(len(pos), 3)
        cx, cy, r = cx + jitter[:, 0], cy + jitter[:, 1], r * (1 + jitter[:, 2])
    return cx, cy, r


def render(attrs: dict[str, torch.Tensor], size: int, jitter: torch.Tensor | None = None) -> torch.Tensor:
    """Render images: uint8 (B, 3, size, size).

    ``attrs`` maps every attribute name to integer codes (B,); ``jitter`` is (B, 3):
    centre offset x, y (canvas fractions) and relative radius change; None renders
    the canonical, unjittered images.
    """
    size = check_size(size)
    attrs = check_attributes(attrs)
    n = len(attrs["shape"])
    cx, cy, r = geometry(attrs, jitter)
    fg = torch.tensor(COLOUR_RGB, dtype=torch.float32)[attrs["colour"]]
    bg = torch.tensor(BACKGROUND_RGB, dtype=torch.float32)[attrs["background"]]
    out = torch.empty(n, 3, size, size, dtype=torch.uint8)
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    chunk = max(1, _PIXELS_PER_CHUNK // (size * size))
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        x = coords.view(1, 1, size) - cx[sl].view(-1, 1, 1)
        y = coords.view(1, size, 1) - cy[sl].view(-1, 1, 1)
        rr = r[sl].view(-1, 1, 1)
        dist = torch.empty(x.shape[0], size, size)
        shapes = attrs["shape"][sl]
        for code, sdf in enumerate(_SDF):  # one vectorised pass per shape kind
            sel = (shapes == code).nonzero().squeeze(1)
            if len(sel):
                dist[sel] = sdf(x[sel], y[sel], rr[sel])
        alpha = (0.5 - dist * size).clamp_(0.0, 1.0).unsqueeze(1)
        f, b = fg[sl].view(-1, 3, 1, 1), bg[sl].view(-1, 3, 1, 1)
        out[sl] = (b + (f - b) * alpha).round_().to(torch.uint8)
    return out


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images to float in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)
