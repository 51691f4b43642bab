"""Stage-II generator: (Stage-I image, text) -> image at 4x (reference) or 2x the Stage-I size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo_stackgan.blocks import ResBlock, conv3x3, up_block
from ganzoo_stackgan.ca import CondAugment
from ganzoo_stackgan.stage1 import GeneratorOutput


class Stage2Generator(nn.Module):
    """Encoder conv3x3(3->ngf) ReLU, two 4x4 stride-2 convs to 4ngf (map = Stage-I size / 4);
    the condition replicated over that map and concatenated; conv3x3 -> 4ngf BN ReLU; R_NUM
    ResBlocks; upBlocks to 2ngf, ngf, ngf/2, ngf/4 (x16); conv3x3 -> 3 -> tanh. ngf = gf_dim.
    ``scale`` (variant): 4 as the reference; 2 drops the last upBlock (x8: 2ngf, ngf, ngf/2),
    so the output is twice the Stage-I size.

    ``text_twice`` gives Stage-II its own CA net; without it Stage-II uses the condition the
    (frozen) Stage-I generator sampled. ``residual`` (variant): the output is
    tanh(bilinear x4 upsample of Stage-I's pre-tanh image + the learned last conv).
    """

    def __init__(self, text_dim: int, c_dim: int, gf_dim: int, r_num: int, ca: bool = True,
                 text_twice: bool = True, residual: bool = False, ca_activation: str = "relu", scale: int = 4):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError(f"Stage-II scale must be 2 or 4, got {scale}")
        ngf = gf_dim
        self.c_dim, self.residual_output, self.scale = c_dim, residual, scale
        self.ca_net = CondAugment(text_dim, c_dim, sample=ca, activation=ca_activation) if text_twice else None
        self.encoder = nn.Sequential(
            conv3x3(3, ngf),
            nn.ReLU(inplace=True),
            nn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(ngf * 2, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(inplace=True),
        )
        self.hr_joint = nn.Sequential(
            conv3x3(c_dim + ngf * 4, ngf * 4),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(inplace=True),
        )
        self.residual = nn.Sequential(*[ResBlock(ngf * 4) for _ in range(r_num)])
        ups = (4 * scale).bit_length() - 1  # the joint map is size/4: log2(4 * scale) x2 upBlocks (4 or 3)
        widths = [ngf * 4 // 2 ** i for i in range(ups + 1)]  # each upBlock halves: 4ngf ... ngf/4 (or ngf/2)
        self.upsample = nn.Sequential(*[up_block(a, b) for a, b in zip(widths, widths[1:])])
        self.img = conv3x3(widths[-1], 3)

    def forward(self, text: torch.Tensor, stage1: GeneratorOutput) -> GeneratorOutput:
        stage1_img = stage1.image.detach()
        if self.ca_net is not None:
            c, mu, logvar = self.ca_net(text)
        else:
            c, mu, logvar = stage1.c.detach(), stage1.mu.detach(), stage1.logvar
            logvar = None if logvar is None else logvar.detach()
        h = self.encoder(stage1_img)
        cmap = c.view(-1, self.c_dim, 1, 1).expand(-1, -1, h.shape[2], h.shape[3])
        h = self.residual(self.hr_joint(torch.cat((h, cmap), dim=1)))
        features = self.upsample(h)
        pre = self.img(features)
        if self.residual_output:
            pre = pre + F.interpolate(stage1.pre_tanh.detach(), scale_factor=self.scale, mode="bilinear", align_corners=False)
        return GeneratorOutput(torch.tanh(pre), pre, c, mu, logvar, features)
