"""EBGAN's text-conditional autoencoder energy, the energy and the pull-away term.

The generator is :class:`ganzoo.nn.TextDCGANGenerator` (the paper's GAN-INT-CLS G). Widths follow
:func:`ganzoo.nn.level_widths`: 8 * width at 4x4, halving per doubling, never below width;
64x64 gives 8w@4 -> 4w@8 -> 2w@16 -> w@32 -> 3@64 (and the mirror image in the encoder).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ganzoo.nn import dcgan_init, down_layers, level_widths, text_projection, tile, up_layers


class EnergyAutoencoder(nn.Module):
    """The discriminator: encode (image, text) to a 4x4 code, decode (code, text) to an image.

    ``forward`` returns (reconstruction, code, match); the energy is the reconstruction error
    (plus, with ``projection``, a penalty on ``match``, the projection score of the pair:
    <sum-pooled 4x4 image features, linear(text)>; None without it).
    """

    def __init__(self, text_dim: int, cond_dim: int, ndf: int, code_dim: int, image_size: int,
                 projection: bool = False, batch_norm: bool = True):
        super().__init__()
        bn = batch_norm
        widths = level_widths(ndf, image_size)
        self.match = nn.Linear(text_dim, widths[0], bias=False) if projection else None
        self.encoder = nn.Sequential(*down_layers(widths[::-1], bn))  # image_size/2 first, 4x4 last
        self.encoder_text = text_projection(text_dim, cond_dim, batch_norm=bn, bias=not bn)
        self.to_code = nn.Conv2d(widths[0] + cond_dim, code_dim, 1)
        self.decoder_text = text_projection(text_dim, cond_dim, batch_norm=bn, bias=not bn)
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim + cond_dim, widths[0], 3, 1, 1, bias=not bn),
            *([nn.BatchNorm2d(widths[0])] if bn else []), nn.ReLU(True), *up_layers(widths[0], widths, bn))
        dcgan_init(self)

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        h = self.encoder(images)
        code = self.to_code(torch.cat([h, tile(self.encoder_text(text), h)], dim=1))
        recon = self.decoder(torch.cat([code, tile(self.decoder_text(text), code)], dim=1))
        match = None if self.match is None else (h.sum(dim=(2, 3)) * self.match(text)).sum(1)
        return recon, code, match


def energy(recon: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per-sample reconstruction MSE, mean over channels and pixels (float32)."""
    return (recon.float() - images.float()).pow(2).mean(dim=(1, 2, 3))


def matching_penalty(match: torch.Tensor) -> torch.Tensor:
    """softplus(-match) = -log sigmoid(match): near 0 for a pair the projection calls matching,
    growing for one it calls mismatched; never negative, so the energy stays bounded below (float32)."""
    return F.softplus(-match.float())


def pull_away(code: torch.Tensor) -> torch.Tensor:
    """PT = 1/(N(N-1)) * sum_{i != j} cos^2(S_i, S_j) over the flattened codes of a batch."""
    with torch.autocast(code.device.type, enabled=False):  # the Gram matrix in float32
        s = code.float().flatten(1)
        s = s / s.norm(dim=1, keepdim=True).clamp_min(1e-8)
        cos2 = (s @ s.t()).pow(2)
    n = s.shape[0]
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))
