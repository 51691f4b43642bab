"""EBGAN networks: a text-conditional DCGAN generator and a text-conditional autoencoder energy.

Widths are anchored at the 4x4 level (8 * width) and halve per doubling of resolution,
never below width; 64x64 gives 8w@4 -> 4w@8 -> 2w@16 -> w@32 -> 3@64 (and the mirror
image in the encoder).
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


def upsampler(c_in: int, widths: list[int]) -> list[nn.Module]:
    """Transposed convs from a 4x4 map with ``c_in`` channels to a tanh image (BN + ReLU between)."""
    layers: list[nn.Module] = []
    for c_out in widths[1:]:
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        c_in = c_out
    return layers + [nn.ConvTranspose2d(c_in, 3, 4, 2, 1), nn.Tanh()]


def text_projection(text_dim: int, cond_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(text_dim, cond_dim, bias=False), nn.BatchNorm1d(cond_dim),
                         nn.LeakyReLU(0.2, True))


def replicate(features: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B, C) -> (B, C, H, W) matching the spatial size of ``like``."""
    return features[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])


class Generator(nn.Module):
    """G(z, t): fc(t) + LeakyReLU(0.2) -> concat z -> transposed convs (BN, ReLU) -> tanh."""

    def __init__(self, text_dim: int, z_dim: int, cond_dim: int, ngf: int, image_size: int):
        super().__init__()
        self.text = nn.Sequential(nn.Linear(text_dim, cond_dim), nn.LeakyReLU(0.2, inplace=True))
        widths = widths_by_level(ngf, image_size)
        self.body = nn.Sequential(
            nn.ConvTranspose2d(z_dim + cond_dim, widths[0], 4, 1, 0, bias=False), nn.BatchNorm2d(widths[0]),
            nn.ReLU(True), *upsampler(widths[0], widths))
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, self.text(text)], dim=1)
        return self.body(h[:, :, None, None])


class EnergyAutoencoder(nn.Module):
    """The discriminator: encode (image, text) to a 4x4 code, decode (code, text) to an image.

    ``forward`` returns (reconstruction, code); the energy is the reconstruction error.
    """

    def __init__(self, text_dim: int, cond_dim: int, ndf: int, code_dim: int, image_size: int):
        super().__init__()
        widths = widths_by_level(ndf, image_size)
        down = widths[::-1]  # image_size/2 first, 4x4 last
        layers: list[nn.Module] = [nn.Conv2d(3, down[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(down, down[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]
        self.encoder = nn.Sequential(*layers)
        self.encoder_text = text_projection(text_dim, cond_dim)
        self.to_code = nn.Conv2d(widths[0] + cond_dim, code_dim, 1)
        self.decoder_text = text_projection(text_dim, cond_dim)
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim + cond_dim, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
            nn.ReLU(True), *upsampler(widths[0], widths))
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(images)
        code = self.to_code(torch.cat([h, replicate(self.encoder_text(text), h)], dim=1))
        recon = self.decoder(torch.cat([code, replicate(self.decoder_text(text), code)], dim=1))
        return recon, code


def energy(recon: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per-sample reconstruction MSE, mean over channels and pixels (float32)."""
    return (recon.float() - images.float()).pow(2).mean(dim=(1, 2, 3))


def pull_away(code: torch.Tensor) -> torch.Tensor:
    """PT = 1/(N(N-1)) * sum_{i != j} cos^2(S_i, S_j) over the flattened codes of a batch."""
    with torch.autocast(code.device.type, enabled=False):  # the Gram matrix in float32
        s = code.float().flatten(1)
        s = s / s.norm(dim=1, keepdim=True).clamp_min(1e-8)
        cos2 = (s @ s.t()).pow(2)
    n = s.shape[0]
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))
