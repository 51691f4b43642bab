"""Conditional VAE networks: q(z | x, text) as a conv encoder, p(x | z, text) as a DCGAN decoder.

Widths follow :func:`ganzoo.nn.level_widths`: 8 * width at 4x4, halving per doubling, never
below width; 64x64 gives 8w@4 -> 4w@8 -> 2w@16 -> w@32 -> 3@64.
"""

from __future__ import annotations

import torch
from torch import nn

from ganzoo.nn import TextDCGANGenerator, dcgan_init, down_layers, level_widths, text_projection, tile


class Encoder(nn.Module):
    """(image, text) -> (mu, logvar) of q(z | x, text); text joins the 4x4 features."""

    def __init__(self, text_dim: int, cond_dim: int, ndf: int, z_dim: int, image_size: int):
        super().__init__()
        down = level_widths(ndf, image_size)[::-1]  # image_size/2 first, 4x4 last
        self.image = nn.Sequential(*down_layers(down))
        self.text = text_projection(text_dim, cond_dim)
        top = down[-1]
        self.joint = nn.Sequential(
            nn.Conv2d(top + cond_dim, top, 1, 1, 0, bias=False), nn.BatchNorm2d(top), nn.LeakyReLU(0.2, True),
            nn.Conv2d(top, 2 * z_dim, 4, 1, 0))
        dcgan_init(self)

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.image(images)
        mu, logvar = self.joint(torch.cat([h, tile(self.text(text), h)], dim=1)).flatten(1).chunk(2, dim=1)
        return mu, logvar


#: p(x | z, text): the GAN-INT-CLS generator; its tanh output is the likelihood's mean
Decoder = TextDCGANGenerator
