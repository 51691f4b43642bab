"""Compare models at one resolution: a view of a model whose final images are upsampled.

Used when the arms of an ablation output different sizes (StackGAN's ``stage=1`` against
``stage=2``): the smaller output is upsampled (bilinear, antialias off) to the larger one
before any metric or grid sees it, so no arm is judged at a resolution it did not make.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def upsample(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    return F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False).clamp(-1, 1)


class ResizedOutput:
    """Delegates everything to ``model``; ``generate`` and the last of ``generate_stages`` come out at ``size``."""

    def __init__(self, model, size: int):
        self._model, self._size = model, int(size)

    def __getattr__(self, name):
        return getattr(self._model, name)

    @property
    def image_size(self) -> int:
        return self._size

    def generate(self, *args, **kwargs) -> torch.Tensor:
        return upsample(self._model.generate(*args, **kwargs), self._size)

    def generate_stages(self, *args, **kwargs) -> list[torch.Tensor]:
        stages = list(self._model.generate_stages(*args, **kwargs))
        return stages[:-1] + [upsample(stages[-1], self._size)]


def at_size(model, size: int | None):
    """``model`` itself when ``size`` is None or already its output size, else a resized view."""
    if not size or int(model.image_size) == int(size):
        return model
    return ResizedOutput(model, size)
