"""StackGAN building blocks and the reference weight initialisation."""

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
_PHASE_TAPS = ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)), ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0))


class UpConv(nn.Conv2d):
    """Nearest x2 upsampling followed by a conv3x3 (no bias), the reference's upBlock core.

    Same parameter (the 3x3 kernel) and same result, but on CPU for maps of 8 px and more
    it is computed as four 2x2 convolutions of the low-resolution input, one per output
    pixel phase: 16 instead of 36 multiply-adds per input pixel and channel pair (about
    12% less CPU time per birds Stage-I training step). Elsewhere (small maps, GPUs, where
    it was not measured) it upsamples then convolves, like the reference.
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        if x.device.type != "cpu" or min(h, w) < 8:
            return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))
        taps = torch.tensor(_PHASE_TAPS, dtype=self.weight.dtype, device=x.device)
        kernels = torch.einsum("aik,ockl,bjl->abocij", taps, self.weight, taps)  # (2, 2, O, C, 2, 2)
        xp = F.pad(x, (1, 1, 1, 1))
        # output laid out channels-last: (n, h, 2, w, 2, O) viewed as (n, O, 2h, 2w); built with
        # torch.stack, whose backward is a cheap split (slice assignment cost 9% more per step)
        rows = [torch.stack([F.conv2d(xp[:, :, a:a + h + 1, b:b + w + 1], kernels[a, b]).permute(0, 2, 3, 1)
                             for b in (0, 1)], dim=3) for a in (0, 1)]
        out = torch.stack(rows, dim=2)
        return out.view(n, 2 * h, 2 * w, self.out_channels).permute(0, 3, 1, 2)


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
