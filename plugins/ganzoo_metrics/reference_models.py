"""Two reference "models" that bound every metric: real images (the ceiling) and noise (the floor).

They implement just what evaluation uses (``generate``, ``sample_z``, ``image_size``,
``networks``, ``eval``), so metrics can be calibrated and tested without training:
real images of a caption should score ~1 on caption accuracy and R-precision, noise
should score chance.
"""

from __future__ import annotations

import torch

from ganzoo.metrics import EvalContext


class _Reference:
    z_dim = 1

    def __init__(self, image_size: int):
        self.image_size = int(image_size)
        self.device = torch.device("cpu")

    def sample_z(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=generator)

    def networks(self) -> dict:
        return {}

    def eval(self):
        return self

    def context(self, split, dataset_name: str = "shapes", **options) -> EvalContext:
        """An EvalContext whose embedding of caption ``i`` is the number ``i`` (all these models read)."""
        emb = torch.arange(len(split.captions), dtype=torch.float32).unsqueeze(1)
        return EvalContext(model=self, split=split, embeddings=emb, dataset_name=dataset_name, **options)


class RealImageModel(_Reference):
    """Returns a real image of the split that has the caption (which one: chosen by z)."""

    def __init__(self, split, image_size: int):
        super().__init__(image_size)
        self.split = split
        rows = split.caption_ids.long()
        caps = rows.reshape(-1)
        images = torch.arange(len(split)).repeat_interleave(rows.shape[1])
        order = torch.argsort(caps, stable=True)
        self.images_sorted = images[order]
        counts = torch.bincount(caps, minlength=len(split.captions))
        self.start = torch.cumsum(counts, 0) - counts
        self.count = counts

    @torch.no_grad()
    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        cap = text[:, 0].round().long().cpu()
        u = torch.special.ndtr(z[:, 0].cpu()) if z is not None else torch.zeros(len(cap))
        pick = (u * self.count[cap]).long().clamp_max(self.count[cap] - 1)
        idx = self.images_sorted[self.start[cap] + pick]
        return self.split.load_images(idx.tolist(), self.image_size, train=False)


class NoiseModel(_Reference):
    """Uniform noise in [-1, 1], ignoring the caption."""

    z_dim = 4

    @torch.no_grad()
    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        seed = int((z.abs().sum() * 1e6).item()) if z is not None else 0
        g = torch.Generator().manual_seed(seed)
        return torch.rand(len(text), 3, self.image_size, self.image_size, generator=g) * 2 - 1
