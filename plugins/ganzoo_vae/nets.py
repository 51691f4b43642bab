"""Conditional VAE networks: q(z | x, text) as a conv encoder, p(x | z, text) as a DCGAN decoder.

Widths are anchored at the 4x4 level (8 * width) and halve per doubling of resolution,
never below width; 64x64 gives 8w@4 -> 4w@8 -> 2w@16 -> w@32 -> 3@64.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def widths_by_level(width: int, image_size: int) -> list[int]:
    """Channels of the hidden maps at 4, 8, ..., image_size/2 (4x4 first)."""
    levels = int(math.log2(image_size)) - 2
    return [width * max(1, 8 >> i) for i in range(levels)]


def init_weights(module: nn.Module) -> None:
    """DCGAN init: conv/linear weights N(0, 0.02), BN weights N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Encoder(nn.Module):
    """(image, text) -> (mu, logvar) of q(z | x, text); text joins the 4x4 features."""

    def __init__(self, text_dim: int, cond_dim: int, ndf: int, z_dim: int, image_size: int):
        super().__init__()
        down = widths_by_level(ndf, image_size)[::-1]  # image_size/2 first, 4x4 last
        layers: list[nn.Module] = [nn.Conv2d(3, down[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(down, down[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]
        self.image = nn.Sequential(*layers)
        self.text = nn.Sequential(nn.Linear(text_dim, cond_dim), nn.LeakyReLU(0.2, True))
        top = down[-1]
        self.joint = nn.Sequential(
            nn.Conv2d(top + cond_dim, top, 1, 1, 0, bias=False), nn.BatchNorm2d(top), nn.LeakyReLU(0.2, True),
            nn.Conv2d(top, 2 * z_dim, 4, 1, 0))
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.image(images)
        t = self.text(text)[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        mu, logvar = self.joint(torch.cat([h, t], dim=1)).flatten(1).chunk(2, dim=1)
        return mu, logvar


class Decoder(nn.Module):
    """(z, text) -> image mean in [-1, 1]: fc(text) + LeakyReLU, concat z, DCGAN transposed convs."""

    def __init__(self, text_dim: int, z_dim: int, cond_dim: int, ngf: int, image_size: int):
        super().__init__()
        self.text = nn.Sequential(nn.Linear(text_dim, cond_dim), nn.LeakyReLU(0.2, True))
        widths = widths_by_level(ngf, image_size)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim + cond_dim, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], 3, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, self.text(text)], dim=1)
        return self.body(h[:, :, None, None])
