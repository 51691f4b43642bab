"""The StackGAN reference image preprocessing: box crop, resize, random crop and flip.

Two stages, so the expensive one can be cached:

1. :func:`decode` (once per image): read the JPEG as RGB; for CUB crop the square of
   side ``1.5 * max(w, h)`` centred on the bounding box, clipped to the image (so a box
   near the border gives a non-square crop, which the resize then stretches, exactly as
   the reference does); resize to ``load_size(S) = int(S * 76 / 64)`` (bicubic).
2. :func:`augment` (per batch): with ``train`` a random ``S x S`` crop and a random
   horizontal flip (p = 0.5), drawn from a generator seeded with ``seed``; without it
   the centre crop and no flip. Output float (B, 3, S, S) in [-1, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ganzoo.errors import GanzooError


def load_size(image_size: int) -> int:
    """The size images are stored at before the random crop (76 for 64, 304 for 256)."""
    return int(image_size * 76 / 64)


def crop_box(width: int, height: int, box: Sequence[float]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the reference CUB crop for box (x, y, w, h)."""
    x, y, w, h = box
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    r = int(max(w, h) * 0.75)
    return max(0, cx - r), max(0, cy - r), min(width, cx + r), min(height, cy + r)


def decode(path: str | Path, box: Sequence[float] | None, size: int) -> np.ndarray:
    """One image as uint8 (size, size, 3): cropped around ``box`` when given, then resized."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if box is not None:
                img = img.crop(crop_box(img.width, img.height, box))
            img = img.resize((size, size), Image.BICUBIC)
            return np.asarray(img, dtype=np.uint8)
    except OSError as exc:
        raise GanzooError(f"cannot read image {path}: {exc}; `ganzoo data check` lists every damaged file") from None


def augment(batch: np.ndarray, image_size: int, train: bool, seed: int = 0) -> torch.Tensor:
    """(B, L, L, 3) uint8 -> (B, 3, S, S) float in [-1, 1], randomly cropped/flipped when ``train``."""
    b, big = batch.shape[0], batch.shape[1]
    margin = big - image_size
    if margin < 0:
        raise ValueError(f"images of {big}px cannot be cropped to {image_size}px")
    if train:
        g = torch.Generator().manual_seed(int(seed))
        offsets = (torch.rand(b, 2, generator=g) * margin).floor().long().tolist()
        flips = (torch.rand(b, generator=g) > 0.5).tolist()
    else:
        offsets, flips = [[margin // 2, margin // 2]] * b, [False] * b
    out = np.empty((b, image_size, image_size, 3), dtype=np.uint8)
    for i, ((top, left), flip) in enumerate(zip(offsets, flips)):
        crop = batch[i, top:top + image_size, left:left + image_size]
        out[i] = crop[:, ::-1] if flip else crop
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()
