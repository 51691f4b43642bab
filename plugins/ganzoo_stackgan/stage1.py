"""Stage-I generator: (text, z) -> low-resolution image."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ganzoo.nn import doublings as n_doublings  # also imported from here by the discriminator
from ganzoo_stackgan.blocks import conv3x3, up_block
from ganzoo_stackgan.ca import CondAugment


class GeneratorOutput(NamedTuple):
    image: torch.Tensor          # tanh output in [-1, 1]
    pre_tanh: torch.Tensor       # the same image before tanh (used by residual_stage2)
    c: torch.Tensor              # the condition the generator used
    mu: torch.Tensor
    logvar: torch.Tensor | None  # None without CA
    features: torch.Tensor | None = None  # the last upBlock's output (post-ReLU), for diagnostics


class Stage1Generator(nn.Module):
    """concat(z, c) -> Linear(no bias) -> BN1d -> ReLU -> ngf x 4 x 4, with ngf = 8 * gf_dim;
    then log2(image_size / 4) upBlocks, each halving the channels (4 for 64 px, as the
    reference: ngf/2 @8 ... ngf/16 @64); conv3x3 -> 3 -> tanh."""

    def __init__(self, text_dim: int, z_dim: int, c_dim: int, gf_dim: int, image_size: int, ca: bool = True,
                 ca_activation: str = "relu"):
        super().__init__()
        ngf = gf_dim * 8
        self.ngf = ngf
        self.ca_net = CondAugment(text_dim, c_dim, sample=ca, activation=ca_activation)
        self.fc = nn.Sequential(
            nn.Linear(z_dim + c_dim, ngf * 4 * 4, bias=False),
            nn.BatchNorm1d(ngf * 4 * 4),
            nn.ReLU(inplace=True),
        )
        ups = n_doublings(image_size)
        self.upsample = nn.Sequential(*[up_block(ngf // 2 ** i, ngf // 2 ** (i + 1)) for i in range(ups)])
        self.img = conv3x3(ngf // 2 ** ups, 3)

    def forward(self, text: torch.Tensor, z: torch.Tensor) -> GeneratorOutput:
        c, mu, logvar = self.ca_net(text)
        h = self.fc(torch.cat((z, c), dim=1)).view(-1, self.ngf, 4, 4)
        features = self.upsample(h)
        pre = self.img(features)
        return GeneratorOutput(torch.tanh(pre), pre, c, mu, logvar, features)
