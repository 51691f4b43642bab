"""StackGAN building blocks and the reference weight initialisation."""

from __future__ import annotations

import torch
from torch import nn


def conv3x3(in_ch: int, out_ch: int) -> nn.Conv2d:
    """3x3 convolution, stride 1, padding 1, no bias (the reference's ``conv3x3``)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=False)


def up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Nearest x2 upsample -> conv3x3 -> BN -> ReLU."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        conv3x3(in_ch, out_ch),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def down_block(in_ch: int, out_ch: int, batch_norm: bool = True) -> nn.Sequential:
    """4x4 stride-2 convolution (no bias) -> [BN] -> LeakyReLU(0.2): halves the map size."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel_size=4, stride=2, padding=1, bias=False)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the input, then ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            conv3x3(channels, channels),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            conv3x3(channels, channels),
            nn.BatchNorm2d(channels),
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.block(x) + x)


@torch.no_grad()
def init_weights(module: nn.Module) -> None:
    """The reference init: conv/linear weights N(0, 0.02), linear biases 0, BN weight N(1, 0.02) and
    bias 0. Conv biases (only the logit convs have one) keep PyTorch's default, as in the reference."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.normal_(0.0, 0.02)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.normal_(1.0, 0.02)
            m.bias.zero_()
        elif isinstance(m, nn.Linear):
            m.weight.normal_(0.0, 0.02)
            if m.bias is not None:
                m.bias.zero_()
