"""The baseline model plugins: gan-int-cls, ebgan and vae (tiny CPU models, a few real steps)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.nn.utils import parametrize

from ganzoo.checkpoint import load_checkpoint, save_checkpoint
from ganzoo.errors import UnknownKeyError, UsageError
from ganzoo.model import GanzooModel
from ganzoo.registry import get_registry

MODELS = ["gan-int-cls", "ebgan", "vae"]
TEXT_DIM = 12
TINY = {"image_size": 16, "batch_size": 4, "z_dim": 8, "cond_dim": 8, "ngf": 8, "ndf": 8}
# ebgan's formula tests below are written for the paper's loss (the keys' defaults); its cpu preset's
# keys (spectral norm, no BN, cls, projection with its fake term) are each switched on by their own tests.
EBGAN_PAPER_LOSS = {"spectral_norm": False, "d_batchnorm": True, "cls": False, "projection_weight": 0.0,
                    "projection_fakes": False}
TINY_EXTRA = {"ebgan": {"code_dim": 8, **EBGAN_PAPER_LOSS}}
PLUGIN_DIRS = {"gan-int-cls": "ganzoo_gan_int_cls", "ebgan": "ganzoo_ebgan", "vae": "ganzoo_vae"}


@pytest.fixture(scope="module")
def registry():
    return get_registry(refresh=True)


def make(registry, name: str, seed: int = 0, text_dim: int = TEXT_DIM, **overrides) -> GanzooModel:
    cls = registry.model(name)
    config = cls.make_config(preset="cpu", overrides={**TINY, **TINY_EXTRA.get(name, {}), **overrides})
    torch.manual_seed(seed)
    return cls(config, text_dim=text_dim)


def random_batch(n: int = 4, size: int = 16, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"images": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "text": torch.randn(n, TEXT_DIM, generator=g),
            "caption_ids": torch.arange(n)}


def step(model: GanzooModel, batch: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return model.train_step(batch)


def params(model: GanzooModel) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": p.detach().clone() for n, net in model.networks().items()
            for k, p in net.named_parameters()}


# ---- registration and configuration ---------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_registered_through_entry_points(registry, name):
    entry = registry.get("model", name)
    assert issubclass(entry.obj, GanzooModel)
    assert entry.description
    assert entry.obj.preset_names() == ["cpu", "paper", "tiny"]


@pytest.mark.parametrize("name", MODELS)
def test_unknown_config_key_is_refused(registry, name):
    with pytest.raises(UnknownKeyError):
        registry.model(name).make_config(preset="cpu", overrides={"bogus_key": 1})


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("size", [48, 8, 0, 100])
def test_invalid_image_size_is_a_usage_error(registry, name, size):
    with pytest.raises(UsageError, match="image_size"):
        make(registry, name, image_size=size)


@pytest.mark.parametrize("name", MODELS)
def test_plugins_use_only_the_public_interface(name):
    """Shaped like third-party plugins: no imports from other plugins, no host syncs in steps."""
    pkg = Path(__import__(PLUGIN_DIRS[name]).__file__).parent
    others = [p for p in PLUGIN_DIRS.values() if p != pkg.name] + ["ganzoo_stackgan"]
    for source in pkg.glob("*.py"):
        text = source.read_text()
        assert ".item(" not in text, source
        for other in others:
            assert other not in text, (source, other)


# ---- presets ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_cpu_and_paper_presets_build(registry, name):
    cls = registry.model(name)
    cpu = cls(cls.make_config(preset="cpu"), text_dim=384)
    assert cpu.image_size == 32 and cpu.batch_size == 32
    paper = cls(cls.make_config(preset="paper"), text_dim=1024)
    assert paper.image_size == 64 and paper.batch_size == 64
    assert sum(paper.parameter_count().values()) > 5 * sum(cpu.parameter_count().values())
    paper.eval()
    torch.manual_seed(0)
    out = paper.generate(torch.randn(2, 1024))
    assert out.shape == (2, 3, 64, 64)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("size", [16, 32, 64])
def test_image_size_sets_the_number_of_layers(registry, name, size):
    model = make(registry, name, image_size=size).eval()
    torch.manual_seed(0)
    out = model.generate(torch.randn(2, TEXT_DIM))
    assert out.shape == (2, 3, size, size)
    assert out.min() >= -1 and out.max() <= 1


# ---- training ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_train_steps_update_every_parameter(registry, name):
    model = make(registry, name)
    before = params(model)
    for i in range(3):
        losses = step(model, random_batch(seed=i), seed=i)
        assert losses, "train_step must report its losses"
        for key, value in losses.items():
            assert value.dim() == 0 and not value.requires_grad, key
            assert torch.isfinite(value), (key, value)
    after = params(model)
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged


@pytest.mark.parametrize("name", MODELS)
def test_train_steps_on_shapes(registry, name):
    if "shapes" not in registry.names("dataset"):
        pytest.skip("the shapes dataset plugin is not installed")
    images = registry.dataset("shapes").split("train").load_images([0, 1, 2, 3], 32, True, 0)
    model = make(registry, name, image_size=32)
    batch = {"images": images, "text": torch.randn(4, TEXT_DIM), "caption_ids": torch.arange(4)}
    for i in range(2):
        assert all(torch.isfinite(v) for v in step(model, batch, seed=i).values())


@pytest.mark.parametrize("name", ["gan-int-cls", "ebgan"])
def test_gans_refuse_single_sample_batches(registry, name):
    with pytest.raises(UsageError):
        make(registry, name, batch_size=1)
    with pytest.raises(UsageError):
        make(registry, name).train_step(random_batch(n=1))


@pytest.mark.parametrize("name", MODELS)
def test_generate_draws_z_from_torch_rng(registry, name):
    model = make(registry, name).eval()
    text = torch.randn(3, TEXT_DIM)
    torch.manual_seed(7)
    a = model.generate(text)
    torch.manual_seed(7)
    z = model.sample_z(3)
    assert torch.equal(a, model.generate(text, z))
    assert not torch.equal(a, model.generate(text))


@pytest.mark.parametrize("name", MODELS)
def test_lr_halves_every_decay_period(registry, name):
    model = make(registry, name, lr_decay_epoch=2)
    start = [g["lr"] for opt in model.optimizers().values() for g in opt.param_groups]
    model.end_epoch(0)
    assert [g["lr"] for opt in model.optimizers().values() for g in opt.param_groups] == start
    model.end_epoch(3)
    assert [g["lr"] for opt in model.optimizers().values() for g in opt.param_groups] == [x / 4 for x in start]
    model.load_extra_state({"epochs_done": 0})
    assert [g["lr"] for opt in model.optimizers().values() for g in opt.param_groups] == start


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip_reproduces_generation_and_training(registry, name, tmp_path):
    model = make(registry, name, seed=0, lr_decay_epoch=1)
    for i in range(2):
        step(model, random_batch(seed=i), seed=i)
    model.end_epoch(0)
    save_checkpoint(tmp_path / "ckpt", model, {"step": 1})

    fresh = make(registry, name, seed=1, lr_decay_epoch=1)
    text = torch.randn(4, TEXT_DIM)
    model.eval(), fresh.eval()
    torch.manual_seed(3)
    expected = model.generate(text)
    torch.manual_seed(3)
    assert not torch.equal(expected, fresh.generate(text))

    harness = load_checkpoint(tmp_path / "ckpt", fresh)
    assert harness["step"] == 1
    torch.manual_seed(3)
    assert torch.equal(expected, fresh.generate(text))
    lrs = [[g["lr"] for g in opt.param_groups] for opt in fresh.optimizers().values()]
    assert lrs == [[g["lr"] for g in opt.param_groups] for opt in model.optimizers().values()]

    # Optimiser state came back too: one more step gives identical losses and weights.
    model.train(), fresh.train()
    batch = random_batch(seed=9)
    a, b = step(model, batch, seed=4), step(fresh, batch, seed=4)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    pa, pb = params(model), params(fresh)
    assert all(torch.equal(pa[k], pb[k]) for k in pa)


# ---- switches ----------------------------------------------------------------------------------

def count_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def has_batchnorm(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


@pytest.mark.parametrize("on", [True, False])
def test_ebgan_d_batchnorm_key_removes_every_autoencoder_batchnorm_and_keeps_g_s(registry, on):
    model = make(registry, "ebgan", d_batchnorm=on)
    assert has_batchnorm(model.netD) == on
    assert has_batchnorm(model.netG)
    if not on:  # without BN every layer carries its own bias
        layers = [m for m in model.netD.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear))
                  and m is not model.netD.match]
        assert all(m.bias is not None for m in layers)
        # and a sample's energy no longer depends on the rest of its batch (train mode)
        batch = random_batch()
        model.netD.train()
        whole, _ = model.energy(batch["images"], batch["text"])
        half, _ = model.energy(batch["images"][:2], batch["text"][:2])
        assert torch.allclose(whole[:2], half, atol=1e-5)


@pytest.mark.parametrize("on", [True, False])
def test_ebgan_spectral_norm_key_normalises_the_autoencoder_and_not_g(registry, on):
    model = make(registry, "ebgan", spectral_norm=on, projection_weight=0.5)
    layers = [m for m in model.netD.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(parametrize.is_parametrized(m, "weight") == on for m in layers)
    assert parametrize.is_parametrized(model.netD.match, "weight") == on
    assert not any(parametrize.is_parametrized(m) for m in model.netG.modules())
    if on:  # each normalised weight has spectral norm ~1 once the power iteration has run
        model.netD.train()
        batch = random_batch()
        for _ in range(20):
            model.energy(batch["images"], batch["text"])
        for m in layers:
            w = m.weight.detach().flatten(1)
            assert torch.linalg.matrix_norm(w, ord=2) == pytest.approx(1.0, abs=0.05)
    losses = step(model, random_batch())
    assert all(torch.isfinite(v) for v in losses.values())


def test_ebgan_cpu_preset_trains_with_every_d_side_term(registry):
    """The cpu preset (not the paper's loss): spectral norm, no BN, wrong captions and the projection's fake term."""
    cls = registry.model("ebgan")
    model = cls(cls.make_config(preset="cpu", overrides={**TINY, "code_dim": 8}), text_dim=TEXT_DIM)
    assert parametrize.is_parametrized(model.netD.match, "weight")
    assert not has_batchnorm(model.netD)
    losses = step(model, random_batch())
    assert {"energy_wrong", "match_fake"} <= losses.keys()
    assert all(torch.isfinite(v) for v in losses.values())


def test_ebgan_projection_fakes_without_a_projection_is_refused(registry):
    with pytest.raises(UsageError, match="projection_weight > 0"):
        make(registry, "ebgan", projection_fakes=True)
    assert make(registry, "ebgan", projection_fakes=True, projection_weight=0.5).netD.match is not None


@pytest.mark.parametrize("cls", [True, False])
def test_gan_int_cls_cls_switch(registry, cls):
    model = make(registry, "gan-int-cls", cls=cls, int=False)
    d_calls = count_calls(model.netD)
    losses = step(model, random_batch())
    assert ("d_wrong" in losses) is cls
    assert d_calls[0] == (4 if cls else 3)  # real, fake, (wrong) in the D step; fake in the G step
    expected = (losses["d_real"] + 0.5 * (losses["d_fake"] + losses["d_wrong"]) if cls
                else losses["d_real"] + losses["d_fake"])
    assert torch.allclose(losses["loss_d"], expected)


@pytest.mark.parametrize("interp", [True, False])
def test_gan_int_cls_int_switch(registry, interp):
    model = make(registry, "gan-int-cls", int=interp)
    g_calls = count_calls(model.netG)
    losses = step(model, random_batch())
    assert ("g_int" in losses) is interp
    assert g_calls[0] == (2 if interp else 1)
    expected = losses["g_fake"] + losses["g_int"] if interp else losses["g_fake"]
    assert torch.allclose(losses["loss_g"], expected)


@pytest.mark.parametrize("pull_away", [True, False])
def test_ebgan_pull_away_switch(registry, pull_away):
    model = make(registry, "ebgan", pull_away=pull_away, lambda_pt=0.1)
    losses = step(model, random_batch())
    assert ("pt" in losses) is pull_away
    if pull_away:
        assert 0 < losses["pt"] <= 1
        assert torch.allclose(losses["loss_g"], losses["energy_g"] + 0.1 * losses["pt"])
    else:
        assert torch.equal(losses["loss_g"], losses["energy_g"])


def test_ebgan_margin_is_a_hinge_on_fake_energy(registry):
    a = step(make(registry, "ebgan", margin=0.5), random_batch())
    b = step(make(registry, "ebgan", margin=2.0), random_batch())
    assert torch.equal(a["energy_fake"], b["energy_fake"])
    assert a["energy_fake"] < 0.5  # untrained G: every fake is inside the margin
    assert torch.allclose(a["loss_d"], a["energy_real"] + 0.5 - a["energy_fake"])
    assert torch.allclose(b["loss_d"] - a["loss_d"], torch.tensor(1.5))
    tiny_margin = step(make(registry, "ebgan", margin=1e-6), random_batch())
    assert torch.allclose(tiny_margin["loss_d"], tiny_margin["energy_real"])


def test_ebgan_projection_score_is_pooled_image_features_dot_projected_text(registry):
    """The real autoencoder's match score, recomputed from its encoder's 4x4 features by hand."""
    model = make(registry, "ebgan", projection_weight=0.5)
    assert make(registry, "ebgan").netD.match is None  # off by default: the paper's energy
    batch = random_batch()
    netD = model.netD.eval()
    with torch.no_grad():
        _, _, match = netD(batch["images"], batch["text"])
        h = netD.encoder(batch["images"])  # (B, C, 4, 4)
        w = netD.match.weight  # (C, text_dim)
        by_hand = torch.tensor([sum(float(h[i, c].sum()) * float(w[c] @ batch["text"][i]) for c in range(h.shape[1]))
                               for i in range(len(h))])
    assert torch.allclose(match, by_hand.float(), atol=1e-4)
    assert not torch.allclose(match, netD(batch["images"], batch["text"].roll(1, 0))[2])  # depends on the caption


@pytest.mark.parametrize("cls", [True, False])
def test_ebgan_cls_switch(registry, cls):
    model = make(registry, "ebgan", cls=cls)
    d_calls = count_calls(model.netD)
    losses = step(model, random_batch())
    assert ("energy_wrong" in losses) is cls
    assert d_calls[0] == (4 if cls else 3)


def test_ebgan_pretrains_the_autoencoder_on_real_data_alone(registry, tmp_path):
    model = make(registry, "ebgan", pretrain_d_steps=2)
    assert model.phase == "pretrain_d"
    g_calls = count_calls(model.netG)
    for i in range(2):
        before = params(model)
        losses = step(model, random_batch(seed=i), seed=i)
        after = params(model)
        assert set(losses) == {"energy_real", "loss_d"}
        assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("generator."))
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("discriminator."))
    assert g_calls[0] == 0  # the generator is not even run
    assert model.phase == "train"
    # the position survives a checkpoint: a resumed run does not pre-train again
    save_checkpoint(tmp_path / "ck", model, {"step": 2})
    clone = make(registry, "ebgan", pretrain_d_steps=2)
    load_checkpoint(tmp_path / "ck", clone)
    assert clone.phase == "train"
    before = params(clone)
    losses = step(clone, random_batch(seed=5), seed=5)
    assert "energy_fake" in losses
    assert any(not torch.equal(before[k], v) for k, v in params(clone).items() if k.startswith("generator."))


def test_ebgan_pull_away_term_values():
    from ganzoo_ebgan.nets import pull_away
    same = torch.ones(4, 2, 3, 3)
    assert torch.allclose(pull_away(same), torch.tensor(1.0))
    orthogonal = torch.eye(4).view(4, 4, 1, 1)
    assert torch.allclose(pull_away(orthogonal), torch.tensor(0.0))
    s = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    cos2 = torch.tensor([[1, 0.5, 0], [0.5, 1, 0.5], [0, 0.5, 1]])
    assert torch.allclose(pull_away(s), (cos2.sum() - 3) / 6)


def test_vae_kl_weight_switch(registry):
    on = step(make(registry, "vae", kl_weight=1.0), random_batch())
    off = step(make(registry, "vae", kl_weight=0.0), random_batch())
    assert torch.equal(on["recon"], off["recon"]) and on["kl"] > 0
    assert torch.allclose(on["loss"], on["recon"] + on["kl"])
    assert torch.equal(off["loss"], off["recon"])
    assert not torch.equal(on["loss"], off["loss"])


def test_vae_reconstruction_likelihoods(registry):
    batch = random_batch()
    mse = step(make(registry, "vae", recon="mse"), batch)
    l1 = step(make(registry, "vae", recon="l1"), batch)
    pixels = 3 * 16 * 16
    # an untrained decoder outputs about 0: per image, sum x^2 vs sum |x| of uniform [-1, 1] pixels
    assert math.isclose(float(mse["recon"]), pixels / 3, rel_tol=0.15)
    assert math.isclose(float(l1["recon"]), pixels / 2, rel_tol=0.15)
    with pytest.raises(UsageError, match="recon"):
        make(registry, "vae", recon="bce")


@pytest.mark.parametrize("name", MODELS)
def test_train_step_under_autocast(registry, name):
    model = make(registry, name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = step(model, random_batch())
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())


# ---- the shared building blocks they are built from (ganzoo.nn) --------------------------------

def test_require_names_the_bad_key_and_its_range():
    from ganzoo.nn import require

    good = {"n": 3, "lr": 0.1, "beta": 0.5, "size": 32, "loss": "bce", "steps": 0, "w": 0.0}
    require(good, positive_int=["n"], positive=["lr"], unit_interval=["beta"], power_of_two={"size": 16},
            choices={"loss": ("bce", "hinge")}, non_negative_int=["steps"], non_negative=["w"], at_least={"n": 2})
    for bad, kwargs, words in [
        ({"n": 0}, {"positive_int": ["n"]}, "n must be a positive integer, got 0"),
        ({"n": True}, {"positive_int": ["n"]}, "n must be a positive integer"),
        ({"n": 1.5}, {"non_negative_int": ["n"]}, "n must be an integer >= 0"),
        ({"lr": 0.0}, {"positive": ["lr"]}, "lr must be > 0"),
        ({"w": -1.0}, {"non_negative": ["w"]}, "w must be >= 0"),
        ({"beta": 1.0}, {"unit_interval": ["beta"]}, "beta must be in [0, 1)"),
        ({"size": 48}, {"power_of_two": {"size": 16}}, "size must be a power of two >= 16"),
        ({"size": 8}, {"power_of_two": {"size": 16}}, "size must be a power of two >= 16"),
        ({"loss": "wgan"}, {"choices": {"loss": ("bce", "hinge")}}, "loss must be one of bce, hinge, got 'wgan'"),
        ({"n": 1}, {"at_least": {"n": 2}, "prefix": "toy ", "why": "pairs"},
         "toy n must be an integer >= 2, got 1 (pairs)"),
    ]:
        with pytest.raises(UsageError) as info:
            require(bad, **kwargs)
        assert words in str(info.value)


def test_dcgan_init_and_widths():
    from ganzoo.nn import dcgan_init, doublings, level_widths

    assert doublings(64) == 4 and level_widths(8, 64) == [64, 32, 16, 8] and level_widths(8, 128)[-2:] == [8, 8]
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3), torch.nn.BatchNorm2d(64), torch.nn.Linear(256, 256))
    default_bias = net[0].bias.detach().clone()
    dcgan_init(net)
    conv, norm, fc = (m.state_dict() for m in net)
    assert abs(float(conv["weight"].std()) - 0.02) < 0.002 and not conv["bias"].any()
    assert abs(float(norm["weight"].mean()) - 1) < 0.01 and not norm["bias"].any()
    assert abs(float(fc["weight"].std()) - 0.02) < 0.002 and not fc["bias"].any()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3), torch.nn.Linear(256, 256))
    linear = net[1].weight.detach().clone()
    dcgan_init(net, conv_bias=True, linear=False)
    assert torch.equal(net[0].bias, default_bias) and torch.equal(net[1].weight, linear)


def test_frozen_stops_weight_gradients_and_restores_the_flags():
    from ganzoo.nn import frozen

    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 1))
    net[0].bias.requires_grad_(False)  # frozen before: stays frozen after
    x = torch.randn(2, 3, requires_grad=True)
    with frozen(net):
        net(x).sum().backward()
        assert not any(p.requires_grad for p in net.parameters())
    assert x.grad is not None and all(p.grad is None for p in net.parameters())
    assert [p.requires_grad for p in net.parameters()] == [True, False, True, True]
