"""The stackgan model plugin: reference fidelity (sizes, CA, losses), stages, variants, state."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.checkpoint import load_checkpoint, save_checkpoint
from ganzoo.errors import UsageError
from ganzoo.registry import get_registry
from ganzoo_stackgan import StackGAN

TEXT_DIM = 12
TINY = dict(image_size=16, gf_dim=4, df_dim=4, r_num=1, z_dim=8, c_dim=6, batch_size=4, stage2_batch_size=4,
            stage1_steps=0)


def make(overrides=None, text_dim=TEXT_DIM, seed=0, device="cpu", preset=None, dataset=None) -> StackGAN:
    torch.manual_seed(seed)
    cfg = StackGAN.make_config(preset, {**(TINY if preset is None else {}), **(overrides or {})}, dataset=dataset)
    return StackGAN(cfg, text_dim, device)


def batch(model: StackGAN, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    n, s = model.batch_size, model.image_size
    return {"images": torch.rand(n, 3, s, s, generator=g) * 2 - 1,
            "text": torch.randn(n, TEXT_DIM, generator=g), "caption_ids": torch.arange(n)}


def snapshot(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def changed(before: dict, net: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in net.named_parameters())


def test_registered_with_presets():
    assert get_registry().model("stackgan") is StackGAN
    coco = StackGAN.make_config("paper", dataset="coco")
    assert (coco["gf_dim"], coco["df_dim"], coco["r_num"], coco["lr_decay_epoch"]) == (192, 96, 2, 20)
    assert StackGAN.make_config("paper", dataset="cub")["gf_dim"] == 128
    assert {"cpu", "paper", "paper.coco", "paper.cub", "paper.oxford102"} <= set(StackGAN.preset_names())


def test_parameter_counts_match_reference():
    birds = make({"stage": 1}, text_dim=1024, preset="paper", dataset="cub").parameter_count()
    assert round(birds["stage1_G"] / 1e6, 2) == 10.30
    assert round(birds["stage1_D"] / 1e6, 2) == 5.72
    # COCO Stage-II: ~230M parameters, so built on the meta device (shapes only, no memory).
    coco = make({"stage": 2, "stage1_steps": 1}, text_dim=1024, preset="paper", dataset="coco",
                device="meta").parameter_count()
    assert round(coco["stage1_G"] / 1e6, 2) == 20.02 and round(coco["stage1_D"] / 1e6, 2) == 12.41
    assert round(coco["stage2_G"] / 1e6, 2) == 37.13
    assert round(coco["stage2_D"] / 1e6, 2) == 159.89


def test_sizes_scale_with_image_size():
    for size, stage, scale in ((16, 1, 4), (32, 1, 4), (16, 2, 4), (16, 2, 2), (32, 2, 2)):
        m = make({"image_size": size, "stage": stage, "stage1_steps": 1, "stage2_scale": scale})
        m.eval()
        out = m.generate_stages(torch.randn(2, TEXT_DIM))
        assert [o.shape[-1] for o in out] == ([size] if stage == 1 else [size, scale * size])
        assert m.image_size == out[-1].shape[-1]
        assert all(o.abs().max() <= 1 for o in out)


def test_stage2_scale_2_trains_its_stage1_phase_on_half_size_images():
    model = make({"stage": 2, "stage1_steps": 1, "stage2_scale": 2, "residual_stage2": True})
    model.train()
    assert model.image_size == 32 and len(model.stage2_G.upsample) == 3
    model.train_step(batch(model))  # Stage-I phase: 32 px batch pooled to 16 px
    assert model.stage_now == 2
    out = model.train_step(batch(model))
    assert torch.isfinite(out["g_loss"])


def test_ca_logvar_init_sets_the_initial_noise_scale():
    for value in (0.0, -4.0):
        torch.manual_seed(0)
        model = make({"stage": 2, "stage1_steps": 1, "ca_activation": "none", "ca_logvar_init": value})
        for ca in (model.stage1_G.ca_net, model.stage2_G.ca_net):
            _, _, logvar = ca(torch.zeros(3, TEXT_DIM))  # a zero text: logvar is the bias alone
            assert torch.allclose(logvar, torch.full_like(logvar, value))


@pytest.mark.parametrize("size", [8, 24, 48, 0])
def test_invalid_image_size_is_a_usage_error(size):
    with pytest.raises(UsageError, match="image_size"):
        make({"image_size": size})


def test_invalid_choices_are_usage_errors():
    for bad in ({"loss": "wgan"}, {"d_text": "c"}, {"stage": 3}, {"batch_size": 1}, {"stage2_scale": 3}):
        with pytest.raises(UsageError):
            make(bad)


VARIANTS = {
    "stage1": {"stage": 1},
    "stage1-no-ca": {"stage": 1, "ca": False},
    "stage1-variants": {"stage": 1, "loss": "hinge", "spectral_norm": True, "d_text": "own"},
    "stage2": {"stage": 2, "stage1_steps": 1},
    "stage2-no-ca-not-twice": {"stage": 2, "stage1_steps": 1, "ca": False, "text_twice": False},
    "stage2-variants": {"stage": 2, "stage1_steps": 1, "loss": "hinge", "spectral_norm": True, "d_text": "own",
                        "residual_stage2": True},
    "stage2-not-twice": {"stage": 2, "stage1_steps": 1, "text_twice": False},
}


@pytest.mark.parametrize("name", VARIANTS)
def test_train_steps_then_checkpoint_round_trip(name, tmp_path):
    model = make(VARIANTS[name])
    model.train()
    final = "stage2" if model.stage == 2 else "stage1"
    before = {k: snapshot(model.networks()[k]) for k in (f"{final}_G", f"{final}_D")}
    for step in range(3):
        losses = model.train_step(batch(model, seed=step))
        assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values()), losses
        assert {"d_loss", "g_loss", "kl", "d_real", "d_wrong", "d_fake"} <= set(losses)
    assert float(losses["stage"]) == model.stage
    for k, snap in before.items():
        assert changed(snap, model.networks()[k]), f"{k} did not train"

    save_checkpoint(tmp_path / "ckpt", model, {"step": 3})
    fresh = make(VARIANTS[name], seed=123)
    load_checkpoint(tmp_path / "ckpt", fresh)
    text = torch.randn(3, TEXT_DIM)
    outs = []
    for m in (model, fresh):
        m.eval()
        torch.manual_seed(7)
        outs.append(m.generate(text))
    assert outs[0].shape == (3, 3, model.image_size, model.image_size)
    assert torch.equal(outs[0], outs[1])
    # the restored optimiser and phase continue identically
    model.train(), fresh.train()
    torch.manual_seed(8)
    a = model.train_step(batch(model, seed=9))
    torch.manual_seed(8)
    b = fresh.train_step(batch(fresh, seed=9))
    assert torch.equal(a["g_loss"], b["g_loss"]) and torch.equal(a["d_loss"], b["d_loss"])


def test_conditioning_augmentation_samples_and_adds_kl():
    model = make({"stage": 1, "kl_weight": 2.0})
    text = torch.randn(4, TEXT_DIM)
    c1, mu1, logvar = model.condition(text)
    c2, mu2, _ = model.condition(text)
    assert torch.equal(mu1, mu2) and not torch.allclose(c1, c2)
    assert torch.allclose(logvar, torch.relu(model.stage1_G.ca_net.fc(text))[:, 6:])  # second half = logvar
    # same seeds, different kl_weight: identical adversarial part, g_loss differs by the KL term
    results = {}
    for w in (0.0, 2.0, 5.0):
        m = make({"stage": 1, "kl_weight": w})
        torch.manual_seed(3)
        results[w] = m.train_step(batch(m))
    kl = results[2.0]["kl"]
    assert kl > 0 and torch.equal(kl, results[5.0]["kl"])
    for w, r in results.items():
        assert torch.equal(r["g_adv"], results[0.0]["g_adv"])
        assert torch.allclose(r["g_loss"], r["g_adv"] + w * kl)
    assert not torch.allclose(results[2.0]["g_loss"], results[5.0]["g_loss"])


def test_no_ca_is_deterministic_without_kl():
    model = make({"stage": 1, "ca": False})
    text = torch.randn(4, TEXT_DIM)
    c1, mu, logvar = model.condition(text)
    c2, _, _ = model.condition(text)
    assert logvar is None and torch.equal(c1, c2) and torch.equal(c1, mu)
    assert torch.allclose(mu, torch.relu(model.stage1_G.ca_net.fc(text))[:, :6])
    losses = []
    for w in (2.0, 5.0):
        m = make({"stage": 1, "ca": False, "kl_weight": w})
        torch.manual_seed(3)
        losses.append(m.train_step(batch(m)))
    assert float(losses[0]["kl"]) == 0.0
    assert torch.equal(losses[0]["g_loss"], losses[0]["g_adv"]) and torch.equal(losses[0]["g_loss"], losses[1]["g_loss"])


def test_generate_is_reproducible_given_the_seed_and_uses_eps():
    model = make({"stage": 2, "stage1_steps": 1})
    model.train_step(batch(model))
    text, z = torch.randn(2, TEXT_DIM), torch.randn(2, 8)
    torch.manual_seed(0)
    a = model.generate(text, z)
    torch.manual_seed(0)
    b = model.generate(text, z)
    c = model.generate(text, z)  # a fresh eps draw: CA samples at test time, as the reference
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert model.stage2_G.training and not model.stage1_G.training  # modes restored; frozen Stage-I in eval


def test_stage2_trains_stage1_first_then_freezes_it():
    model = make({"stage": 2, "stage1_steps": 2, "lr_decay_epoch": 1})
    model.train()
    s1, s2 = snapshot(model.stage1_G), snapshot(model.stage2_G)
    for _ in range(2):
        assert model.phase == "stage1"
        assert float(model.train_step(batch(model))["stage"]) == 1
    assert changed(s1, model.stage1_G) and not changed(s2, model.stage2_G)
    assert model.phase == "stage2" and model.parameter_count()["stage1_G"] == 0
    s1 = snapshot(model.stage1_G)
    for _ in range(2):
        assert float(model.train_step(batch(model))["stage"]) == 2
    assert not changed(s1, model.stage1_G) and changed(s2, model.stage2_G)
    assert not model.stage1_G.training  # train() keeps the frozen Stage-I in eval mode
    # learning rates: epochs are counted per stage
    model.end_epoch(0)
    assert model.optimizers()["stage2_G"].param_groups[0]["lr"] == pytest.approx(1e-4)
    assert model.optimizers()["stage1_G"].param_groups[0]["lr"] == pytest.approx(2e-4)


def test_stage2_loads_and_freezes_a_stage1_checkpoint(tmp_path):
    stage1 = make({"stage": 1})
    stage1.train_step(batch(stage1))
    save_checkpoint(tmp_path / "run" / "checkpoint", stage1, {"step": 1})
    model = make({"stage": 2, "stage1_checkpoint": str(tmp_path / "run")})
    assert set(model.networks()) == {"stage1_G", "stage2_G", "stage2_D"}
    assert model.parameter_count()["stage1_G"] == 0 and model.phase == "stage2"
    model.train()
    model.train_step(batch(model))  # reads the Stage-I weights on first use
    for k, v in stage1.stage1_G.state_dict().items():
        assert torch.equal(v, model.stage1_G.state_dict()[k])
    before = snapshot(model.stage1_G)
    model.train_step(batch(model))
    assert not changed(before, model.stage1_G)
    # a finished Stage-II run loads without its Stage-I run
    save_checkpoint(tmp_path / "run2", model, {"step": 2})
    moved = make({"stage": 2, "stage1_checkpoint": str(tmp_path / "gone")})
    load_checkpoint(tmp_path / "run2", moved)
    text = torch.randn(2, TEXT_DIM)
    outs = []
    for m in (model, moved):
        torch.manual_seed(0)
        outs.append(m.generate(text))
    assert torch.equal(*outs)
    for bad, message in (({"gf_dim": 8}, "does not fit"), ({}, "stage1_checkpoint")):
        wrong = make({"stage": 2, "stage1_checkpoint": str(tmp_path / ("run" if bad else "nowhere")), **bad})
        with pytest.raises(UsageError, match=message):
            wrong.train_step(batch(wrong))


def test_stage2_without_a_stage1_source_is_a_usage_error():
    model = make({"stage": 2, "stage1_steps": 0})
    with pytest.raises(UsageError, match="stage1_checkpoint"):
        model.train_step(batch(model))


def test_lr_halves_every_decay_epoch():
    model = make({"stage": 1, "lr_decay_epoch": 2, "lr_g": 1e-3, "lr_d": 4e-3})
    lrs = []
    for epoch in range(5):
        model.end_epoch(epoch)
        lrs.append((model.optimizers()["stage1_G"].param_groups[0]["lr"],
                    model.optimizers()["stage1_D"].param_groups[0]["lr"]))
    assert [g for g, _ in lrs] == pytest.approx([1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4])
    assert all(math.isclose(d, 4 * g) for g, d in lrs)


def test_variant_semantics():
    # residual_stage2: with Stage-II's last conv zeroed, the output is the upsampled Stage-I image
    model = make({"stage": 2, "stage1_steps": 1, "residual_stage2": True})
    torch.nn.init.zeros_(model.stage2_G.img.weight)
    model.eval()
    text, z = torch.randn(2, TEXT_DIM), torch.randn(2, 8)
    torch.manual_seed(0)
    stage1, stage2 = model.generate_stages(text, z)
    up = torch.nn.functional.interpolate(torch.atanh(stage1.clamp(-1 + 1e-6, 1 - 1e-6)), scale_factor=4,
                                         mode="bilinear", align_corners=False)
    assert torch.allclose(stage2, torch.tanh(up), atol=1e-4)
    # text_twice=false: no second CA net, Stage-II conditions on Stage-I's
    once = make({"stage": 2, "stage1_steps": 1, "text_twice": False})
    assert once.stage2_G.ca_net is None and once.condition(text)[1].shape == (2, 6)
    # d_text=own: D has its own text projection, and it trains
    own = make({"stage": 1, "d_text": "own"})
    proj = own.stage1_D.text_proj.weight.detach().clone()
    own.train_step(batch(own))
    assert own.stage1_D.text_proj.weight.shape == (6, TEXT_DIM)
    assert not torch.equal(proj, own.stage1_D.text_proj.weight)


def test_upconv_equals_upsample_then_conv3x3():
    from ganzoo_stackgan.blocks import UpConv
    torch.manual_seed(0)
    conv = UpConv(6, 5)
    for h in (4, 8, 12):  # both CPU paths: gathered 2x2 patches below 8 px, four phase convs from 8 px on
        for layout in (torch.contiguous_format, torch.channels_last):
            x = torch.randn(2, 6, h, h + 4).contiguous(memory_format=layout).requires_grad_()
            ref = torch.nn.functional.conv2d(torch.nn.functional.interpolate(x, scale_factor=2), conv.weight, padding=1)
            out = conv(x)
            assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-5)
            g = torch.randn_like(ref)
            for a, b in zip(torch.autograd.grad(out, (x, conv.weight), g), torch.autograd.grad(ref, (x, conv.weight), g)):
                assert torch.allclose(a, b, atol=1e-4)


# ---- CA activation, diagnostics, Stage-II follows its sketch --------------------------

def _tiny(**overrides):
    cls = get_registry().model("stackgan")
    config = cls.make_config("cpu", {"stage": 1, "gf_dim": 4, "df_dim": 4, "image_size": 16, "z_dim": 8,
                                     "c_dim": 8, "batch_size": 4, **overrides})
    return cls(config, text_dim=6, device="cpu")


@pytest.mark.parametrize("activation", ["relu", "leaky", "none"])
def test_ca_activation_bounds_mu_and_logvar_as_documented(activation):
    torch.manual_seed(0)
    model = _tiny(ca=True, ca_activation=activation)
    ca = model.stage1_G.ca_net
    with torch.no_grad():
        ca.fc.bias.fill_(-0.5)  # push half the units negative
        _, mu, logvar = ca(torch.randn(64, 6))
        pre = ca.fc(torch.randn(64, 6))
    if activation == "relu":
        assert mu.min() >= 0 and logvar.min() >= 0  # sigma >= 1 under the reference ReLU
    else:
        assert mu.min() < 0 and logvar.min() < 0
    assert pre.min() < 0


def test_unknown_ca_activation_is_refused():
    with pytest.raises(UsageError, match="ca_activation"):
        _tiny(ca_activation="sigmoid")


def test_diagnostics_are_logged_only_when_asked():
    torch.manual_seed(0)
    batch = {"images": torch.rand(4, 3, 16, 16) * 2 - 1, "text": torch.randn(4, 6),
             "caption_ids": torch.zeros(4, dtype=torch.long)}
    plain = _tiny(ca=True).train_step(batch)
    assert "ca_dead" not in plain
    out = _tiny(ca=True, diagnostics=True).train_step(batch)
    for key in ("ca_mu_spread", "ca_sigma", "ca_dead", "g_dead", "img_spread", "d_blank_logit"):
        assert key in out and torch.isfinite(out[key])
    assert 0 <= float(out["ca_dead"]) <= 1 and float(out["ca_sigma"]) > 0


def test_stage2_output_changes_with_the_stage1_image():
    """The default (non-residual) Stage-II reads its sketch: another sketch, another image."""
    torch.manual_seed(0)
    model = _tiny(stage=2, stage1_steps=1, residual_stage2=False, ca=True)
    G2 = model.stage2_G.train()  # batch statistics: an untrained net in eval mode outputs almost nothing
    text = torch.randn(3, 6)
    with torch.no_grad():
        s1 = model.stage1_G.eval()(text, torch.randn(3, 8))
        other = s1._replace(image=torch.rand_like(s1.image) * 2 - 1)
        torch.manual_seed(1)
        a = G2(text, s1).image
        torch.manual_seed(1)  # the same CA noise for both
        b = G2(text, other).image
        torch.manual_seed(1)
        a_again = G2(text, s1).image
    assert torch.equal(a, a_again)
    assert (a - b).abs().mean() > 1e-4
