"""GAN-INT-CLS as the authors' Torch code has it (reedscot/icml2016, main_cls_int.lua): the
bottleneck branches (parameter counts from the authors' layer list), wrong captions that are never
the right one, and the mean of several caption embeddings per image."""

from __future__ import annotations

import pytest
import torch

from ganzoo.registry import get_registry

TEXT_DIM = 12
TINY = {"image_size": 16, "batch_size": 8, "z_dim": 8, "cond_dim": 8, "ngf": 8, "ndf": 8}


def make(**overrides):
    cls = get_registry().model("gan-int-cls")
    torch.manual_seed(0)
    return cls(cls.make_config("cpu", {**TINY, **overrides}), text_dim=TEXT_DIM)


# ---- parameter counts from the authors' layer list -------------------------------------------
# Written from main_cls_int.lua's layers (txtSize 1024, nt 128, nz 100, ngf 128, ndf 64), not
# from the plugin. Torch's convolutions and linears carry a bias; the authors zero every
# convolution bias before each D and G step, so the plugin has none: expected = list - conv biases.

def conv(c_in: int, c_out: int, k: int) -> tuple[str, int, int]:
    return ("conv", c_in * c_out * k * k, c_out)  # weights, bias


def bn(c: int) -> tuple[str, int, int]:
    return ("bn", 2 * c, 0)


def linear(n_in: int, n_out: int) -> tuple[str, int, int]:
    return ("linear", n_in * n_out + n_out, 0)


T, NT, NZ, NGF, NDF = 1024, 128, 100, 128, 64
G_RES_4 = [conv(8 * NGF, 2 * NGF, 1), bn(2 * NGF), conv(2 * NGF, 2 * NGF, 3), bn(2 * NGF),
           conv(2 * NGF, 8 * NGF, 3), bn(8 * NGF)]
G_RES_8 = [conv(4 * NGF, NGF, 1), bn(NGF), conv(NGF, NGF, 3), bn(NGF), conv(NGF, 4 * NGF, 3), bn(4 * NGF)]
D_RES_4 = [conv(8 * NDF, 2 * NDF, 1), bn(2 * NDF), conv(2 * NDF, 2 * NDF, 3), bn(2 * NDF),
           conv(2 * NDF, 8 * NDF, 3), bn(8 * NDF)]


def generator_layers(residual: bool) -> list:
    return ([linear(T, NT), conv(NZ + NT, 8 * NGF, 4), bn(8 * NGF)] + (G_RES_4 if residual else [])
            + [conv(8 * NGF, 4 * NGF, 4), bn(4 * NGF)] + (G_RES_8 if residual else [])
            + [conv(4 * NGF, 2 * NGF, 4), bn(2 * NGF), conv(2 * NGF, NGF, 4), bn(NGF), conv(NGF, 3, 4)])


def discriminator_layers(residual: bool) -> list:
    return ([conv(3, NDF, 4), conv(NDF, 2 * NDF, 4), bn(2 * NDF), conv(2 * NDF, 4 * NDF, 4), bn(4 * NDF),
             conv(4 * NDF, 8 * NDF, 4), bn(8 * NDF)] + (D_RES_4 if residual else [])
            + [linear(T, NT), bn(NT), conv(8 * NDF + NT, 8 * NDF, 1), bn(8 * NDF), conv(8 * NDF, 1, 4)])


def count(layers: list, with_conv_bias: bool) -> int:
    return sum(n + (bias if with_conv_bias else 0) for _, n, bias in layers)


def test_layer_lists_match_the_reference_notes():
    """The authors' branches add about 4.0M parameters to G and 0.8M to D (models.md)."""
    g_extra = count(generator_layers(True), True) - count(generator_layers(False), True)
    d_extra = count(discriminator_layers(True), True) - count(discriminator_layers(False), True)
    assert round(g_extra / 1e6, 1) == 4.0 and round(d_extra / 1e6, 1) == 0.8


@pytest.mark.parametrize("residual", [True, False])
def test_paper_parameter_counts_follow_the_authors_layer_list(residual):
    cls = get_registry().model("gan-int-cls")
    config = cls.make_config("paper", {"residual": residual})
    counts = cls(config, text_dim=T, device="meta").parameter_count()
    assert counts == {"generator": count(generator_layers(residual), with_conv_bias=False),
                      "discriminator": count(discriminator_layers(residual), with_conv_bias=False)}
    assert cls.make_config("paper")["residual"] is True and cls.make_config(None)["residual"] is True


# ---- the branches are on the forward path ----------------------------------------------------

@pytest.mark.parametrize("size", [16, 32, 64])
def test_bottlenecks_run_in_g_at_4_and_8_px_and_in_d_at_4_px(size):
    model = make(image_size=size)
    seen = {"generator": [], "discriminator": []}
    for name, net in model.networks().items():
        for module in net.modules():
            if type(module).__name__ == "Bottleneck":
                module.register_forward_hook(lambda m, args, out, name=name: seen[name].append(args[0].shape[-1]))
    text = torch.randn(2, TEXT_DIM)
    images = model.eval().generate(text)
    model.netD(images, text)
    assert seen == {"generator": [4, 8], "discriminator": [4]}
    assert images.shape == (2, 3, size, size)


def test_bottleneck_adds_its_branch_to_its_input_before_the_activation():
    model = make()
    block = next(m for m in model.netG.modules() if type(m).__name__ == "Bottleneck").eval()
    x = torch.randn(2, block.branch[0].in_channels, 4, 4)
    with torch.no_grad():
        assert torch.equal(block(x.clone()), torch.relu(x + block.branch(x)))


def test_residual_false_has_no_bottleneck():
    model = make(residual=False)
    assert not any(type(m).__name__ == "Bottleneck" for net in model.networks().values() for m in net.modules())


# ---- wrong captions --------------------------------------------------------------------------

def captured_wrong_text(model, batch) -> torch.Tensor:
    seen = []
    hook = model.netD.register_forward_hook(lambda _m, args, _out: seen.append(args[1].clone()))
    torch.manual_seed(1)
    model.train_step(batch)
    hook.remove()
    return seen[2]  # the D step's calls: real/right, fake/right, real/wrong


def duplicated_batch(seed: int) -> dict:
    """Eight samples, adjacent pairs sharing a caption (as two images of one caption would)."""
    g = torch.Generator().manual_seed(seed)
    text = torch.randn(4, TEXT_DIM, generator=g).repeat_interleave(2, dim=0)
    return {"images": torch.rand(8, 3, 16, 16, generator=g) * 2 - 1, "text": text,
            "caption_ids": torch.arange(4).repeat_interleave(2)}


@pytest.mark.parametrize("seed", range(5))
def test_a_wrong_caption_is_another_samples_and_never_the_right_one(seed):
    model = make(int=False)
    batch = duplicated_batch(seed)
    wrong = captured_wrong_text(model, batch)
    text = batch["text"]
    for i in range(len(text)):
        assert not torch.equal(wrong[i], text[i]), f"sample {i} got its own caption as the wrong one"
        assert any(torch.equal(wrong[i], t) for t in text), "a wrong caption comes from the batch"


def test_wrong_partners_are_drawn_uniformly_among_the_differing_captions():
    from ganzoo_gan_int_cls.pairs import wrong_partners

    text = torch.tensor([[0.0], [0.0], [1.0], [2.0]])
    torch.manual_seed(0)
    draws = torch.stack([wrong_partners(text)[0] for _ in range(3000)])
    valid = wrong_partners(text)[1]
    assert valid.all()
    for i, allowed in enumerate(([2, 3], [2, 3], [0, 1, 3], [0, 1, 2])):
        freq = torch.bincount(draws[:, i], minlength=4).float() / len(draws)
        assert set(draws[:, i].unique().tolist()) == set(allowed)
        assert torch.allclose(freq[allowed], torch.full((len(allowed),), 1 / len(allowed)), atol=0.04)


def test_samples_whose_caption_everyone_shares_have_no_wrong_pair():
    model = make(int=False, batch_size=4)
    same = {"images": torch.rand(4, 3, 16, 16) * 2 - 1, "text": torch.randn(1, TEXT_DIM).repeat(4, 1),
            "caption_ids": torch.zeros(4, dtype=torch.long)}
    torch.manual_seed(0)
    losses = model.train_step(same)
    assert float(losses["d_wrong"]) == 0.0  # no wrong pair exists: the term is empty
    assert torch.allclose(losses["loss_d"], losses["d_real"] + 0.5 * losses["d_fake"])


# ---- several captions per image --------------------------------------------------------------

def condition_seen_by_g(model, text) -> torch.Tensor:
    seen = []
    hook = model.netG.text.register_forward_hook(lambda _m, args, _out: seen.append(args[0].clone()))
    torch.manual_seed(2)
    model.train_step({"images": torch.rand(len(text), 3, 16, 16) * 2 - 1, "text": text,
                      "caption_ids": torch.arange(len(text))})
    hook.remove()
    return seen[0]


def test_caption_mean_averages_that_many_draws_of_each_images_captions():
    """Two captions e0, e1 per image: a mean of 4 draws with replacement is (k e0 + (4 - k) e1) / 4."""
    e = torch.randn(8, 2, TEXT_DIM)
    got = condition_seen_by_g(make(caption_mean=4, int=False), e)
    ks = []
    for i in range(8):
        options = [(k * e[i, 0] + (4 - k) * e[i, 1]) / 4 for k in range(5)]
        match = [k for k, o in enumerate(options) if torch.allclose(got[i], o, atol=1e-6)]
        assert match, f"image {i}: not a mean of 4 of its captions"
        ks.append(match[0])
    assert len(set(ks)) > 1, "the captions averaged are drawn at random"
    one = condition_seen_by_g(make(caption_mean=1, int=False), e)
    assert all(torch.equal(one[i], e[i, 0]) or torch.equal(one[i], e[i, 1]) for i in range(8))


def test_one_embedding_per_sample_is_used_as_given_and_generate_averages_all():
    model = make()
    text = torch.randn(8, TEXT_DIM)
    assert torch.equal(condition_seen_by_g(model, text), text)
    several = torch.randn(3, 5, TEXT_DIM)
    z = torch.randn(3, TINY["z_dim"])
    model.eval()
    assert torch.allclose(model.generate(several, z), model.generate(several.mean(1), z))


@pytest.mark.parametrize("on", [True, False])
def test_spectral_norm_key_normalises_every_d_layer_and_no_g_layer(on):
    from torch import nn
    from torch.nn.utils import parametrize

    model = make(spectral_norm=on)
    layers = [m for m in model.netD.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(parametrize.is_parametrized(m, "weight") == on for m in layers)
    assert not any(parametrize.is_parametrized(m) for m in model.netG.modules())
    if on:  # each D weight's largest singular value is 1 after a few power iterations
        model.netD.train()
        for _ in range(30):
            for m in layers:
                m.weight
        for m in layers:
            sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
            assert abs(float(sigma) - 1.0) < 0.05


@pytest.mark.parametrize("on", [True, False])
def test_d_batchnorm_key_removes_every_d_batchnorm_and_keeps_g_s(on):
    from torch import nn

    norms = (nn.BatchNorm1d, nn.BatchNorm2d)
    model = make(d_batchnorm=on, residual=True, spectral_norm=False)  # SN's power iteration would change D between calls
    assert any(isinstance(m, norms) for m in model.netD.modules()) == on
    assert any(isinstance(m, norms) for m in model.netG.modules())
    # in training mode, without BN a sample's logit does not depend on the rest of its batch
    model.netD.train()
    size = TINY["image_size"]
    images, text = torch.randn(4, 3, size, size), torch.randn(4, TEXT_DIM)
    with torch.no_grad():
        batch, alone = model.netD(images, text)[:2], model.netD(images[:2], text[:2])
    assert torch.allclose(batch, alone, atol=1e-5) == (not on)


def test_d_cond_projection_scores_psi_of_pooled_features_plus_their_product_with_the_text():
    """``d_cond = "projection"``: D's logit is linear(h) + <embed(text features), h>, h the
    sum-pooled 4x4 features; it replaces the concatenation, whose convs are gone."""
    model = make(d_cond="projection", spectral_norm=False, d_batchnorm=False)
    d = model.netD
    assert d.joint is None
    size = TINY["image_size"]
    images, text = torch.randn(5, 3, size, size), torch.randn(5, TEXT_DIM)
    d.eval()
    with torch.no_grad():
        h = d.image(images).sum(dim=(2, 3))
        t = d.text(text)
        by_hand = h @ d.projection.linear.weight[0] + d.projection.linear.bias + ((t @ d.projection.embed.weight.T) * h).sum(1)
        assert torch.allclose(d(images, text), by_hand, atol=1e-5)
        # the text matters: another caption gives another score for the same image
        assert not torch.allclose(d(images, text), d(images, text.flip(0)), atol=1e-4)
    assert make(d_cond="concat").netD.projection is None
    cls = get_registry().model("gan-int-cls")
    # the authors' concatenation is the default and the paper preset's; only the cpu recipe projects
    assert cls.make_config("paper", {})["d_cond"] == "concat"
    assert cls.defaults_and_presets()[0]["d_cond"] == "concat"
    assert cls.make_config("cpu", {})["d_cond"] == "projection"
