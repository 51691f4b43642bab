"""GAN-INT-CLS networks as the authors' Torch code builds them (reedscot/icml2016, main_cls_int.lua).

Both are DCGAN stacks (:func:`ganzoo.nn.level_widths`: 8 * width at 4x4, halving per doubling,
never below width; 64 px is exactly the authors' 8w@4 -> 4w@8 -> 2w@16 -> w@32). With
``residual`` (the default, as the authors' code) a :class:`Bottleneck` follows the BN of G's 4x4
and 8x8 levels and of D's 4x4 level, and that level's activation comes after the sum; without
it, the plain DCGAN trunk of the paper. No convolution has a bias: the authors' code zeroes
every convolution bias before each D and G step, so theirs are always 0.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ganzoo.nn import ProjectionLogits, dcgan_init, level_widths, text_projection, tile

Norm = Callable[[int], nn.Module]

#: how many levels, from the 4x4 one up, carry a bottleneck branch (the authors' code: G 2, D 1)
G_RESIDUAL_LEVELS, D_RESIDUAL_LEVELS = 2, 1


def relu() -> nn.Module:
    return nn.ReLU(True)


def leaky() -> nn.Module:
    return nn.LeakyReLU(0.2, True)


class Bottleneck(nn.Module):
    """act(x + branch(x)), branch = conv1x1 (c -> c/4) BN act, conv3x3 (c/4) BN act, conv3x3 (-> c) BN."""

    def __init__(self, channels: int, act: Callable[[], nn.Module], norm: Norm = nn.BatchNorm2d):
        super().__init__()
        mid = max(1, channels // 4)
        self.branch = nn.Sequential(
            nn.Conv2d(channels, mid, 1, 1, 0, bias=False), norm(mid), act(),
            nn.Conv2d(mid, mid, 3, 1, 1, bias=False), norm(mid), act(),
            nn.Conv2d(mid, channels, 3, 1, 1, bias=False), norm(channels))
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.branch(x))


def activation(channels: int, act: Callable[[], nn.Module], residual: bool, norm: Norm = nn.BatchNorm2d) -> nn.Module:
    """What follows a level's BN: the bottleneck (activation after the sum), or the activation."""
    return Bottleneck(channels, act, norm) if residual else act()


def no_norm(channels: int) -> nn.Module:
    """Stands in for BatchNorm2d where D has none (``d_batchnorm = false``)."""
    return nn.Identity()


class Generator(nn.Module):
    """G(z, t): fc(t) + LeakyReLU(0.2) -> concat z -> transposed convs (BN, ReLU; bottlenecks at
    4x4 and 8x8 with ``residual``) -> tanh. The fc keeps PyTorch's (= Torch7's) default init."""

    def __init__(self, text_dim: int, z_dim: int, cond_dim: int, ngf: int, image_size: int, residual: bool = True):
        super().__init__()
        self.text = text_projection(text_dim, cond_dim)
        widths = level_widths(ngf, image_size)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim + cond_dim, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), activation(widths[0], relu, residual)]
        for level, (c_in, c_out) in enumerate(zip(widths, widths[1:]), start=1):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       activation(c_out, relu, residual and level < G_RESIDUAL_LEVELS)]
        layers += [nn.ConvTranspose2d(widths[-1], 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        dcgan_init(self, linear=False)

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, self.text(text)], dim=1)
        return self.body(h[:, :, None, None])


class Discriminator(nn.Module):
    """D(x, t) -> one logit per sample: 4x4 stride-2 convs (LeakyReLU 0.2, BN from the second; a
    bottleneck at 4x4 with ``residual``); fc(t) + BN + LeakyReLU replicated 4x4 and concatenated;
    1x1 conv + BN + LeakyReLU; 4x4 conv -> logit. ``batch_norm = False`` drops every BN (not the
    authors': for a spectrally normalised D, where the batch statistics couple the samples).
    ``projection`` replaces the concatenation and the two convs after it by a projection head
    (:class:`ganzoo.nn.ProjectionLogits` on the 4x4 features and the text features; not the
    authors')."""

    def __init__(self, text_dim: int, cond_dim: int, ndf: int, image_size: int, residual: bool = True,
                 batch_norm: bool = True, projection: bool = False):
        super().__init__()
        norm: Norm = nn.BatchNorm2d if batch_norm else no_norm
        widths = level_widths(ndf, image_size)[::-1]  # image_size/2 first, 4x4 last
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 4, 2, 1, bias=False), leaky()]
        for to_4x4, (c_in, c_out) in zip(range(len(widths) - 2, -1, -1), zip(widths, widths[1:])):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), norm(c_out),
                       activation(c_out, leaky, residual and to_4x4 < D_RESIDUAL_LEVELS, norm)]
        self.image = nn.Sequential(*layers)
        self.text = text_projection(text_dim, cond_dim, batch_norm=batch_norm)
        top = widths[-1]
        self.projection = ProjectionLogits(top, cond_dim) if projection else None
        self.joint = None if projection else nn.Sequential(
            nn.Conv2d(top + cond_dim, top, 1, 1, 0, bias=False), norm(top), leaky(),
            nn.Conv2d(top, 1, 4, 1, 0, bias=False))
        dcgan_init(self, linear=False)

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        h = self.image(images)
        if self.projection is not None:
            return self.projection(h, self.text(text))
        return self.joint(torch.cat([h, tile(self.text(text), h)], dim=1)).view(-1)
