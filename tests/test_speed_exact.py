"""The fast StackGAN layers compute what the plain layers compute: outputs and gradients
(input and weight) equal within float rounding, on every code path (UpConv's matrix-product
path below 8 px, its phase-convolution path from 8 px on), both memory layouts, non-square
maps, and through a whole Stage-I generator; the discriminator's conditional head (no
concatenation of the replicated condition) equals concat + conv3x3 the same way."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganzoo_stackgan.blocks import UpConv
from ganzoo_stackgan.discriminator import CondLogits, Discriminator, replicated_cond_conv
from ganzoo.nn import add_spectral_norm
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


# ---- the discriminator's conditional head ------------------------------------------------------
class PlainCondLogits(CondLogits):
    """The reference's D_GET_LOGITS: the condition replicated over the map, concatenated, conv3x3."""

    def forward(self, features, cond):
        c = cond.view(-1, self.c_dim, 1, 1).expand(-1, -1, features.shape[2], features.shape[3])
        return self.logit(self.joint(torch.cat((features, c), dim=1))).view(-1)


@pytest.mark.parametrize("k,padding", [(3, 1), (3, 0), (1, 0), (5, 2), (5, 1), (2, 1)])
@pytest.mark.parametrize("h,w", [(4, 4), (1, 1), (2, 3), (5, 7), (8, 8)])
def test_replicated_cond_conv_equals_conv_of_the_replicated_condition(k, padding, h, w):
    """Every border case of the tap mask: taps cut off on one side, both sides or none, output
    maps the size of the input, smaller or larger."""
    if h + 2 * padding < k or w + 2 * padding < k:
        pytest.skip("no output")
    g = torch.Generator().manual_seed(k * 1000 + padding * 100 + h * 10 + w)
    cond = torch.randn(3, 6, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, 6, k, k, generator=g, dtype=torch.float64, requires_grad=True)
    plain = F.conv2d(cond.view(3, 6, 1, 1).expand(-1, -1, h, w), weight, padding=padding)
    fast = replicated_cond_conv(cond, weight, h, w, (padding, padding))
    assert fast.shape == plain.shape
    upstream = torch.randn(plain.shape, generator=g, dtype=torch.float64)
    for a, b in zip((fast, *torch.autograd.grad(fast, (cond, weight), upstream)),
                    (plain, *torch.autograd.grad(plain, (cond, weight), upstream))):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def _head_grads(head, features, cond, upstream):
    out = head(features, cond)
    params = [p for _, p in sorted(head.named_parameters())]
    return (out, *torch.autograd.grad(out, (features, cond, *params), upstream))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
@pytest.mark.parametrize("h,w", [(4, 4), (4, 8), (8, 8)])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_cond_logits_output_and_gradients_equal_concat_then_conv(dtype, tol, h, w, layout):
    """Training mode (BN batch statistics); gradients w.r.t. the features, the condition and
    every parameter (conv3x3, BN, logit conv)."""
    g = torch.Generator().manual_seed(h * 10 + w)
    head = CondLogits(12, 5).to(dtype).to(memory_format=layout)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=dtype))
    plain = copy.deepcopy(head)
    plain.__class__ = PlainCondLogits
    features = torch.randn(6, 12, h, w, generator=g, dtype=dtype).contiguous(memory_format=layout).requires_grad_()
    cond = torch.randn(6, 5, generator=g, dtype=dtype, requires_grad=True)
    upstream = torch.randn(6 * (h // 4) * (w // 4), generator=g, dtype=dtype)
    names = ["output", "features grad", "cond grad"] + [f"{n} grad" for n, _ in sorted(head.named_parameters())]
    fast, ref = _head_grads(head, features, cond, upstream), _head_grads(plain, features, cond, upstream)
    for name, a, b in zip(names, fast, ref):
        assert a.shape == b.shape, name
        scale = float(b.detach().abs().max())
        assert float((a - b).detach().abs().max()) <= tol * scale, f"{name} differs beyond rounding at {h}x{w}"
    assert list(head.state_dict()) == ["joint.0.weight", "joint.1.weight", "joint.1.bias", "joint.1.running_mean",
                                       "joint.1.running_var", "joint.1.num_batches_tracked", "logit.weight",
                                       "logit.bias"]


@pytest.mark.parametrize("spectral", [False, True])
def test_discriminator_gradients_equal_the_concatenating_head(spectral):
    """A whole (channels_last) Stage-I D, real / wrong / fake passes, with and without spectral norm."""
    torch.manual_seed(0)
    d = Discriminator(32, 4, 5).double()
    if spectral:
        add_spectral_norm(d)
    d.to(memory_format=torch.channels_last)
    twin = copy.deepcopy(d)
    twin.get_cond_logits.__class__ = PlainCondLogits
    real = torch.randn(6, 3, 32, 32, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    fake = torch.randn(6, 3, 32, 32, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    cond = torch.randn(6, 5, dtype=torch.float64)
    out_fast, out_plain = d(fake, cond, real), twin(fake, cond, real)
    loss = {k: (v * torch.linspace(-1, 2, len(v), dtype=torch.float64)).sum() for k, v in out_fast.items()}
    loss_plain = {k: (v * torch.linspace(-1, 2, len(v), dtype=torch.float64)).sum() for k, v in out_plain.items()}
    for k in out_plain:
        torch.testing.assert_close(out_fast[k], out_plain[k], rtol=1e-10, atol=1e-12)
    sum(loss.values()).backward()
    sum(loss_plain.values()).backward()
    named = dict(twin.named_parameters())
    for name, p in d.named_parameters():
        torch.testing.assert_close(p.grad, named[name].grad, rtol=1e-9, atol=1e-12, msg=lambda m: f"{name}: {m}")
    assert list(d.state_dict()) == list(twin.state_dict())
