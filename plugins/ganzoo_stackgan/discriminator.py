"""The StackGAN discriminator, for either stage: image encoder + conditional (+ unconditional) logits.

Image encoder: log2(size / 4) 4x4 stride-2 convs ndf, 2ndf, 4ndf, ... down to a 4x4 map
(the first without BN), then conv3x3 + BN + LeakyReLU halvings until 8ndf channels remain.
For Stage-I at 64 px that is the reference's 4 convs to 8ndf; for Stage-II at 256 px its
6 convs to 32ndf and the two conv3x3s to 16ndf and 8ndf. Heads output logits (no sigmoid).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.nn import ProjectionLogits
from ganzoo_stackgan.blocks import conv3x3, down_block
from ganzoo_stackgan.stage1 import n_doublings


class CondLogits(nn.Module):
    """concat(features, condition replicated 4x4) -> conv3x3 -> BN -> LeakyReLU -> conv(k4, s4) -> logit.

    Computed without the concatenation: the conv3x3 is split into its feature and condition
    input channels, and the condition part, conv(replicated c), is at each output position
    the sum over the kernel taps that fall inside the map (zero padding) of W_tap @ c, i.e.
    one (B, c_dim) x (c_dim, 9 out) product and a (positions x taps) 0/1 mix of it
    (:func:`replicated_cond_conv`). Same parameters and state_dict as the concatenating
    layer; at birds widths it removes c_dim / (channels + c_dim) = 1/5 of this conv's work.
    """

    def __init__(self, channels: int, c_dim: int):
        super().__init__()
        self.c_dim = c_dim
        self.joint = nn.Sequential(
            conv3x3(channels + c_dim, channels),
            nn.BatchNorm2d(channels),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.logit = nn.Conv2d(channels, 1, kernel_size=4, stride=4)

    def forward(self, features: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        conv, bn, act = self.joint
        # read once: under spectral_norm each read of .weight runs the power iteration
        w_feat, w_cond = conv.weight.split([features.shape[1], self.c_dim], dim=1)
        h = F.conv2d(features, w_feat, padding=conv.padding)
        h = h + replicated_cond_conv(cond.reshape(-1, self.c_dim), w_cond, features.shape[2], features.shape[3],
                                     conv.padding)
        return self.logit(act(bn(h))).view(-1)


def tap_mask(size: int, taps: int, padding: int, like: torch.Tensor) -> torch.Tensor:
    """(output positions, taps) 0/1 for a stride-1 conv along one axis of a ``size`` map:
    output position p reads input p + t - padding through tap t; 1 where that input lies
    inside the map, 0 where it falls in the zero padding."""
    out = size + 2 * padding - taps + 1
    pos = torch.arange(out, device=like.device).view(-1, 1) + torch.arange(taps, device=like.device) - padding
    return ((pos >= 0) & (pos < size)).to(like.dtype)


def replicated_cond_conv(cond: torch.Tensor, weight: torch.Tensor, height: int, width: int,
                         padding: tuple[int, int]) -> torch.Tensor:
    """conv2d(cond replicated over a height x width map, weight, stride 1, padding), no bias,
    computed from the (B, C) condition alone; (B, O, H', W') with channels_last strides.

    A stride-1 conv of a spatially constant input is, at each output position, the sum of
    W_tap @ c over the taps that read inside the map: the per-tap products come from one
    (B, C) x (C, kh kw O) matrix product, the position sums from a (H' W', kh kw) 0/1 one.
    """
    out_ch, in_ch, kh, kw = weight.shape
    per_tap = (cond @ weight.permute(1, 2, 3, 0).reshape(in_ch, kh * kw * out_ch)).view(-1, kh * kw, out_ch)
    rows, cols = tap_mask(height, kh, padding[0], per_tap), tap_mask(width, kw, padding[1], per_tap)
    mix = (rows[:, None, :, None] * cols[None, :, None, :]).reshape(-1, kh * kw)
    return torch.matmul(mix, per_tap).view(-1, rows.shape[0], cols.shape[0], out_ch).permute(0, 3, 1, 2)


class Discriminator(nn.Module):
    """``uncond`` adds the Stage-II unconditional head; ``text_dim`` (the ``d_text=own``
    variant) gives D its own Linear(text_dim -> c_dim) so it is conditioned on raw text."""

    def __init__(self, image_size: int, df_dim: int, c_dim: int, uncond: bool = False,
                 text_dim: int | None = None, projection: bool = False, batch_norm: bool = True):
        super().__init__()
        convs = n_doublings(image_size)
        layers, ch = [down_block(3, df_dim, batch_norm=False)], df_dim
        for _ in range(convs - 1):
            layers.append(down_block(ch, ch * 2, batch_norm=batch_norm))
            ch *= 2
        while ch > 8 * df_dim:
            layers += [conv3x3(ch, ch // 2)] + ([nn.BatchNorm2d(ch // 2)] if batch_norm else [])
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch //= 2
        self.encode_img = nn.Sequential(*layers)
        self.channels = ch
        self.text_proj = nn.Linear(text_dim, c_dim) if text_dim is not None else None
        self.get_cond_logits = ProjectionLogits(ch, c_dim) if projection else CondLogits(ch, c_dim)
        self.get_uncond_logits = nn.Conv2d(ch, 1, kernel_size=4, stride=4) if uncond else None

    def forward(self, fake: torch.Tensor, cond: torch.Tensor,
                real: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Logits of the (fake, cond) pairs and, given ``real``, of the (real, cond) pairs and
        the wrong pairs (real[:-1], cond[1:]); ``*_uncond`` too with the unconditional head.

        ``cond`` is CA's mu (reference) or the raw text (``d_text=own``). As in the reference,
        real and fake images are encoded in separate passes and real, wrong and fake pairs go
        through the conditional head in separate passes, so each has its own BN statistics.
        Everything happens in one forward call so that DDP and torch.compile wrappers work.
        """
        if self.text_proj is not None:
            cond = self.text_proj(cond)
        out: dict[str, torch.Tensor] = {}
        if real is not None:
            real_f = self.encode_img(real)
            out["real"] = self.get_cond_logits(real_f, cond)
            out["wrong"] = self.get_cond_logits(real_f[:-1], cond[1:])
            if self.get_uncond_logits is not None:
                out["real_uncond"] = self.get_uncond_logits(real_f).view(-1)
        fake_f = self.encode_img(fake)
        out["fake"] = self.get_cond_logits(fake_f, cond)
        if self.get_uncond_logits is not None:
            out["fake_uncond"] = self.get_uncond_logits(fake_f).view(-1)
        return out
