"""The fast StackGAN layers compute what the plain layers compute: outputs and gradients
(input and weight) equal within float rounding, on every code path (UpConv's matrix-product
path below 8 px, its phase-convolution path from 8 px on), both memory layouts, non-square
maps, and through a whole Stage-I generator."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganzoo_stackgan.blocks import UpConv
from ganzoo_stackgan.stage1 import Stage1Generator


class PlainUpConv(nn.Module):
    """The reference's upBlock core: nn.Upsample(nearest, x2) then conv3x3, sharing UpConv's weight."""

    def __init__(self, conv: UpConv):
        super().__init__()
        self.weight = conv.weight

    def forward(self, x):
        return F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), self.weight, padding=1)


def _grads(module, x, upstream):
    out = module(x)
    return (out, *torch.autograd.grad(out, (x, module.weight), upstream))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
@pytest.mark.parametrize("h,w", [(4, 4), (4, 6), (2, 3), (8, 8), (8, 12), (16, 16)])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_upconv_output_and_gradients_equal_upsample_then_conv(dtype, tol, h, w, layout):
    g = torch.Generator().manual_seed(h * 100 + w)
    conv = UpConv(12, 7).to(dtype)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g, dtype=dtype))
    x = torch.randn(3, 12, h, w, generator=g, dtype=dtype).contiguous(memory_format=layout).requires_grad_()
    upstream = torch.randn(3, 7, 2 * h, 2 * w, generator=g, dtype=dtype)
    fast, plain = _grads(conv, x, upstream), _grads(PlainUpConv(conv), x, upstream)
    for name, a, b in zip(("output", "input grad", "weight grad"), fast, plain):
        assert a.shape == b.shape, name
        scale = float(b.detach().abs().max())
        assert float((a - b).detach().abs().max()) <= tol * scale, f"{name} differs beyond rounding at {h}x{w}"


def _plain_twin(generator: Stage1Generator) -> Stage1Generator:
    twin = copy.deepcopy(generator)
    for block in twin.upsample:
        block[0] = PlainUpConv(block[0])  # shares the deep-copied weight
    return twin


def test_stage1_generator_gradients_equal_the_plain_layers():
    """32 px: upBlocks at 4 px (matrix products), 8 and 16 px (phase convolutions)."""
    torch.manual_seed(0)
    g = Stage1Generator(text_dim=10, z_dim=6, c_dim=5, gf_dim=4, image_size=32, ca=False).double()
    g.to(memory_format=torch.channels_last)
    twin = _plain_twin(g)
    text, z = torch.randn(8, 10, dtype=torch.float64), torch.randn(8, 6, dtype=torch.float64)
    out_fast, out_plain = g(text, z).image, twin(text, z).image
    torch.testing.assert_close(out_fast, out_plain, rtol=1e-10, atol=1e-12)
    upstream = torch.randn_like(out_fast)
    (out_fast * upstream).sum().backward()
    (out_plain * upstream).sum().backward()
    named = dict(twin.named_parameters())
    for name, p in g.named_parameters():
        torch.testing.assert_close(p.grad, named[name].grad, rtol=1e-9, atol=1e-12, msg=lambda m: f"{name}: {m}")
