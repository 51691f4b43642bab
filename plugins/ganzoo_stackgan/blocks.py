"""StackGAN building blocks (the reference init is :func:`ganzoo.nn.dcgan_init` with ``conv_bias=True``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(in_ch: int, out_ch: int) -> nn.Conv2d:
    """3x3 convolution, stride 1, padding 1, no bias (the reference's ``conv3x3``)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=False)


# For output pixel phase a (row 2i + a) after nearest x2 upsampling, a 3-tap kernel
# (w0, w1, w2) touches input rows (i-1, i, i) for a = 0 and (i, i, i+1) for a = 1, i.e.
# 2 taps: (w0, w1 + w2) at offsets (-1, 0) and (w0 + w1, w2) at offsets (0, +1).


class UpConv(nn.Conv2d):
    """Nearest x2 upsampling followed by a conv3x3 (no bias), the reference's upBlock core.

    Same parameter (the 3x3 kernel) and same result, but on the CPU it is computed as four
    2x2 convolutions of the low-resolution input, one per output pixel phase: 16 instead
    of 36 multiply-adds per input pixel and channel pair. Maps of 8 px and more run the four
    phases through ``F.conv2d`` (oneDNN); smaller maps (Stage-I's first upBlock, 4 -> 8 px,
    1024 -> 512 channels at birds widths) through four matrix products of gathered 2x2
    patches, because oneDNN's convolution backward is slow on 4 x 4 maps (measured 1 thread,
    batch 64: forward + backward 11 s upsample + conv, 6.9 s phase convolutions, 5.2 s phase
    matrix products). On GPUs (not measured) it upsamples then convolves, like the reference.
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))
        if min(x.shape[2], x.shape[3]) < 8:
            return _phases_by_matmul(x, _matmul_weights(self.weight))
        return _phases_by_conv(x, phase_kernels(self.weight))


def _fold_taps(w: torch.Tensor, dim: int) -> torch.Tensor:
    """Along ``dim`` (the 3 taps of the 3x3 kernel): (2 phases, 2 taps, ...), phase 0 = (w0, w1 + w2),
    phase 1 = (w0 + w1, w2). Plain adds: an einsum with the 0/1 tap matrices spent ~0.5 s per
    birds step in strided copies."""
    w0, w1, w2 = w.unbind(dim)
    return torch.stack([torch.stack([w0, w1 + w2]), torch.stack([w0 + w1, w2])])


def phase_kernels(weight: torch.Tensor) -> torch.Tensor:
    """(2, 2, O, C, 2, 2): the 2x2 kernel of each output phase (a, b) of upsample-then-conv3x3."""
    folded = _fold_taps(_fold_taps(weight, 2), 4)  # (b, j, a, i, O, C)
    return folded.permute(2, 0, 4, 5, 3, 1)


def _matmul_weights(weight: torch.Tensor) -> torch.Tensor:
    """(2, 2, 4C, O): phase (a, b)'s 2x2 kernel as a matrix, rows ordered (i, j, C)."""
    folded = _fold_taps(_fold_taps(weight.permute(2, 3, 1, 0), 0), 2)  # (b, j, a, i, C, O)
    return folded.permute(2, 0, 3, 1, 4, 5).reshape(2, 2, 4 * weight.shape[1], weight.shape[0])


def _interleave(phases: list[list[torch.Tensor]]) -> torch.Tensor:
    """phases[a][b]: (n, h, w, O) -> (n, O, 2h, 2w), laid out channels-last. torch.stack, whose
    backward is a cheap split (writing into slices of an empty tensor cost 9% more per step)."""
    out = torch.stack([torch.stack(row, dim=3) for row in phases], dim=2)  # n, h, 2, w, 2, O
    n, h, _, w, _, o = out.shape
    return out.view(n, 2 * h, 2 * w, o).permute(0, 3, 1, 2)


def _phases_by_conv(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[2], x.shape[3]
    xp = F.pad(x, (1, 1, 1, 1))
    return _interleave([[F.conv2d(xp[:, :, a:a + h + 1, b:b + w + 1], kernels[a, b]).permute(0, 2, 3, 1)
                         for b in (0, 1)] for a in (0, 1)])


def _phases_by_matmul(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    xp = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)  # (n, h + 2, w + 2, C)
    phases = []
    for a in (0, 1):
        row = []
        for b in (0, 1):
            patches = torch.cat([xp[:, a + i:a + i + h, b + j:b + j + w] for i in (0, 1) for j in (0, 1)], dim=3)
            row.append((patches.reshape(n * h * w, 4 * c) @ weights[a, b]).view(n, h, w, -1))
        phases.append(row)
    return _interleave(phases)


def up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Nearest x2 upsample + conv3x3 (:class:`UpConv`) -> BN -> ReLU."""
    return nn.Sequential(UpConv(in_ch, out_ch), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


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
