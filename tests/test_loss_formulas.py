"""Every model's losses against independently written formulas on fixed tensors.

The expected values here are written from the papers' definitions in plain Python floats
(binary cross-entropy with its labels spelled out, the Gaussian KL in closed form, the
pull-away term as a double loop), never from the plugins' own helpers. Where a loss is put
together inside ``train_step`` the networks are replaced by stubs that return fixed logits,
energies or distributions, so the numbers the model reports can be checked exactly: a
flipped label, a wrong weight or a missing term changes them.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganzoo.registry import get_registry

TEXT_DIM = 6
N = 4


# ---- independent reference formulas (plain floats) ------------------------------------------

def _floats(t) -> list[float]:
    return [float(v) for v in torch.as_tensor(t).flatten()]


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def bce(logit: float, label: float) -> float:
    """-[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], written out."""
    p = 1.0 / (1.0 + math.exp(-logit))
    return -(label * math.log(p) + (1.0 - label) * math.log(1.0 - p))


def bce_mean(logits, label: float) -> float:
    return _mean(bce(x, label) for x in _floats(logits))


def gauss_kl(mu: float, logvar: float) -> float:
    """KL(N(mu, sigma^2) || N(0, 1)) = (sigma^2 + mu^2 - 1 - log sigma^2) / 2."""
    return 0.5 * (math.exp(logvar) + mu * mu - 1.0 - logvar)


def pull_away_loop(codes: torch.Tensor) -> float:
    """PT = 1 / (N (N - 1)) * sum_{i != j} (S_i . S_j / (|S_i| |S_j|))^2 (Zhao et al. 2017, eq. 5)."""
    rows = [_floats(c) for c in codes.reshape(codes.shape[0], -1)]
    n, total = len(rows), 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                dot = sum(a * b for a, b in zip(rows[i], rows[j]))
                norm_i = math.sqrt(sum(a * a for a in rows[i]))
                norm_j = math.sqrt(sum(b * b for b in rows[j]))
                total += (dot / (norm_i * norm_j)) ** 2
    return total / (n * (n - 1))


def close(actual, expected: float, rel: float = 1e-5, abs_: float = 1e-6) -> bool:
    return math.isclose(float(actual), expected, rel_tol=rel, abs_tol=abs_)


# Fixed logits: asymmetric, so that flipping any label changes every loss built from them.
REAL = torch.tensor([2.0, -0.5, 1.25, 3.0])
WRONG = torch.tensor([0.75, -1.5, 2.5])         # StackGAN pairs real[:-1] with cond[1:]: N - 1
FAKE = torch.tensor([-1.0, 0.5, -2.25, 1.5])
REAL_U = torch.tensor([1.5, 0.25, -0.75, 2.0])
FAKE_U = torch.tensor([-0.5, -2.0, 1.0, 0.0])
INT = torch.tensor([0.3, -0.8, 1.7, -2.2])


def test_reference_bce_is_sensitive_to_its_label():
    """Guards the tests below: with these logits a flipped label gives a different loss."""
    for logits in (REAL, WRONG, FAKE, REAL_U, FAKE_U, INT):
        assert abs(bce_mean(logits, 1.0) - bce_mean(logits, 0.0)) > 0.05


# ---- StackGAN --------------------------------------------------------------------------------

def test_stackgan_bce_terms_use_label_1_for_real_and_g_and_0_for_fake():
    from ganzoo.nn import AdversarialLoss

    adv = AdversarialLoss("bce")
    assert close(adv.d_real(REAL), bce_mean(REAL, 1.0))
    assert close(adv.d_fake(FAKE), bce_mean(FAKE, 0.0))
    assert close(adv.d_fake(WRONG), bce_mean(WRONG, 0.0))
    assert close(adv.g(FAKE), bce_mean(FAKE, 1.0))  # non-saturating: G wants its fakes called real


def test_stackgan_hinge_terms():
    from ganzoo.nn import AdversarialLoss

    adv = AdversarialLoss("hinge")
    assert close(adv.d_real(REAL), _mean(max(0.0, 1.0 - x) for x in _floats(REAL)))
    assert close(adv.d_fake(FAKE), _mean(max(0.0, 1.0 + x) for x in _floats(FAKE)))
    assert close(adv.g(FAKE), -_mean(_floats(FAKE)))


def test_weighted_terms_average_over_the_samples_weighted_one():
    """GAN-INT-CLS leaves samples without a wrong pair out of the wrong term (weight 0)."""
    from ganzoo.nn import AdversarialLoss

    adv, keep = AdversarialLoss("bce"), torch.tensor([True, False, True, True])
    kept = [x for x, k in zip(_floats(REAL), keep) if k]
    assert close(adv.d_fake(REAL, weight=keep), bce_mean(kept, 0.0))
    assert close(adv.d_real(REAL, weight=keep), bce_mean(kept, 1.0))
    assert close(adv.g(REAL, weight=keep), bce_mean(kept, 1.0))
    assert float(adv.d_fake(REAL, weight=torch.zeros(4, dtype=torch.bool))) == 0.0


def _stage1_d(real_label=1.0, wrong_label=0.0, fake_label=0.0) -> float:
    return bce_mean(REAL, real_label) + 0.5 * (bce_mean(FAKE, fake_label) + bce_mean(WRONG, wrong_label))


def test_stackgan_matching_aware_d_loss_stage1():
    """real/right -> 1, real/wrong -> 0, fake -> 0; total = real + (fake + wrong) / 2."""
    from ganzoo.nn import AdversarialLoss
    from ganzoo_stackgan.losses import discriminator_loss

    d = discriminator_loss(AdversarialLoss("bce"), REAL, WRONG, FAKE)
    assert close(d["d_loss"], _stage1_d())
    assert close(d["d_real"], bce_mean(REAL, 1.0))
    assert close(d["d_wrong"], bce_mean(WRONG, 0.0))
    assert close(d["d_fake"], bce_mean(FAKE, 0.0))
    for flipped in ({"real_label": 0.0}, {"wrong_label": 1.0}, {"fake_label": 1.0}):
        assert not close(d["d_loss"], _stage1_d(**flipped), rel=1e-3), flipped


def test_stackgan_matching_aware_d_loss_stage2_with_unconditional_head():
    """(real + real_u) / 2 + (fake + wrong + fake_u) / 3, as the reference's Stage-II trainer."""
    from ganzoo.nn import AdversarialLoss
    from ganzoo_stackgan.losses import discriminator_loss

    d = discriminator_loss(AdversarialLoss("bce"), REAL, WRONG, FAKE, REAL_U, FAKE_U)
    expected = ((bce_mean(REAL, 1) + bce_mean(REAL_U, 1)) / 2
                + (bce_mean(FAKE, 0) + bce_mean(WRONG, 0) + bce_mean(FAKE_U, 0)) / 3)
    assert close(d["d_loss"], expected)
    assert close(d["d_real"], (bce_mean(REAL, 1) + bce_mean(REAL_U, 1)) / 2)
    assert close(d["d_fake"], (bce_mean(FAKE, 0) + bce_mean(FAKE_U, 0)) / 2)
    assert close(d["d_wrong"], bce_mean(WRONG, 0))


def _random_gaussians(seed=0, shape=(5, 7)):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(shape, generator=g) * 1.5
    logvar = torch.randn(shape, generator=g) * 1.2  # negative and positive log-variances
    return mu, logvar


def _kl_torch_distributions(mu, logvar) -> torch.Tensor:
    from torch.distributions import Normal, kl_divergence

    q = Normal(mu.double(), torch.exp(0.5 * logvar.double()))
    p = Normal(torch.zeros_like(mu, dtype=torch.float64), torch.ones_like(mu, dtype=torch.float64))
    return kl_divergence(q, p)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stackgan_kl_closed_form_and_torch_distributions(seed):
    """StackGAN's KL is the reference's mean over batch and c_dim of the per-unit Gaussian KL."""
    from ganzoo_stackgan.losses import kl_divergence

    mu, logvar = _random_gaussians(seed)
    closed = _mean(gauss_kl(m, lv) for m, lv in zip(_floats(mu), _floats(logvar)))
    assert close(kl_divergence(mu, logvar), closed)
    assert close(kl_divergence(mu, logvar), float(_kl_torch_distributions(mu, logvar).mean()))
    assert close(kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)), 0.0)  # the prior itself


def test_ca_samples_its_gaussian_and_its_kl_is_the_closed_form():
    """CondAugment's (mu, logvar) describe the distribution c is drawn from (logvar is the log
    VARIANCE), and the KL of those is the closed form and torch.distributions' value."""
    from ganzoo_stackgan.ca import CondAugment
    from ganzoo_stackgan.losses import kl_divergence

    torch.manual_seed(0)
    ca = CondAugment(TEXT_DIM, 5)
    text = torch.randn(3, TEXT_DIM) * 2
    with torch.no_grad():
        c, mu, logvar = ca(text)
    assert c.shape == mu.shape == logvar.shape == (3, 5)
    closed = _mean(gauss_kl(m, lv) for m, lv in zip(_floats(mu), _floats(logvar)))
    assert close(kl_divergence(mu, logvar), closed)
    assert close(kl_divergence(mu, logvar), float(_kl_torch_distributions(mu, logvar).mean()))

    # c ~ N(mu, exp(logvar)): the sample mean and variance of many draws for one caption
    draws = 20_000
    with torch.no_grad():
        many, mu1, logvar1 = ca(text[:1].repeat(draws, 1))
    mean, var = many.double().mean(0), many.double().var(0)
    sigma = torch.exp(0.5 * logvar1[0].double())
    assert torch.all((mean - mu1[0].double()).abs() < 5 * sigma / math.sqrt(draws)), (mean, mu1[0])
    assert torch.allclose(var, sigma ** 2, rtol=0.05), (var, sigma ** 2)


class StubStackD(nn.Module):
    """A StackGAN discriminator that returns fixed logits (plus a zero that carries gradients)."""

    def __init__(self, uncond: bool):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.uncond = uncond

    def forward(self, fake, cond, real=None):
        tie = self.anchor + 0.0 * fake.float().mean()  # D's gradient path, and G's through fake
        out = {"fake": FAKE + tie}
        if self.uncond:
            out["fake_uncond"] = FAKE_U + tie
        if real is not None:
            out["real"], out["wrong"] = REAL + self.anchor, WRONG + self.anchor
            if self.uncond:
                out["real_uncond"] = REAL_U + self.anchor
        return out


def _stackgan(**overrides):
    from ganzoo_stackgan import StackGAN

    tiny = dict(image_size=16, gf_dim=4, df_dim=4, r_num=1, z_dim=8, c_dim=6, batch_size=N, stage2_batch_size=N,
                stage1_steps=0, loss="bce", ca=True, d_text="mu")
    torch.manual_seed(0)
    return StackGAN(StackGAN.make_config(None, {**tiny, **overrides}), TEXT_DIM, "cpu")


def _capture_generator_output(generator: nn.Module) -> list:
    seen = []
    generator.register_forward_hook(lambda module, args, output: seen.append(output))
    return seen


def _batch(size: int, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"images": torch.rand(N, 3, size, size, generator=g) * 2 - 1,
            "text": torch.randn(N, TEXT_DIM, generator=g), "caption_ids": torch.arange(N)}


@pytest.mark.parametrize("kl_weight", [2.0, 0.5])
def test_stackgan_stage1_train_step_losses(kl_weight):
    model = _stackgan(stage=1, kl_weight=kl_weight)
    model.stage1_D = StubStackD(uncond=False)
    outputs = _capture_generator_output(model.stage1_G)
    losses = model.train_step(_batch(16))
    mu, logvar = outputs[-1].mu.detach(), outputs[-1].logvar.detach()
    kl = _mean(gauss_kl(m, lv) for m, lv in zip(_floats(mu), _floats(logvar)))
    assert close(losses["kl"], kl) and close(losses["kl"], float(_kl_torch_distributions(mu, logvar).mean()))
    assert close(losses["d_loss"], _stage1_d())
    assert close(losses["d_real"], bce_mean(REAL, 1)) and close(losses["d_wrong"], bce_mean(WRONG, 0))
    assert close(losses["d_fake"], bce_mean(FAKE, 0))
    assert close(losses["g_adv"], bce_mean(FAKE, 1))
    assert close(losses["g_loss"], bce_mean(FAKE, 1) + kl_weight * kl)
    assert close(losses["p_real"], _mean(1 / (1 + math.exp(-x)) for x in _floats(REAL)))
    assert close(losses["p_fake"], _mean(1 / (1 + math.exp(-x)) for x in _floats(FAKE)))


def test_stackgan_stage2_train_step_losses():
    model = _stackgan(stage=2, stage1_steps=1, kl_weight=2.0)
    model.stage1_D = StubStackD(uncond=False)
    model.train_step(_batch(64, seed=2))  # the in-run Stage-I phase: one step, then Stage-I is frozen
    assert model.stage_now == 2
    model.stage2_D = StubStackD(uncond=True)
    outputs = _capture_generator_output(model.stage2_G)
    losses = model.train_step(_batch(64))
    assert float(losses["stage"]) == 2
    mu, logvar = outputs[-1].mu.detach(), outputs[-1].logvar.detach()
    kl = _mean(gauss_kl(m, lv) for m, lv in zip(_floats(mu), _floats(logvar)))
    expected_d = ((bce_mean(REAL, 1) + bce_mean(REAL_U, 1)) / 2
                  + (bce_mean(FAKE, 0) + bce_mean(WRONG, 0) + bce_mean(FAKE_U, 0)) / 3)
    assert close(losses["d_loss"], expected_d)
    g_adv = bce_mean(FAKE, 1) + bce_mean(FAKE_U, 1)  # the reference adds the unconditional G term
    assert close(losses["g_adv"], g_adv)
    assert close(losses["kl"], kl)
    assert close(losses["g_loss"], g_adv + 2.0 * kl)


# ---- GAN-INT-CLS -----------------------------------------------------------------------------

def _model(name: str, **overrides):
    tiny = {"image_size": 16, "batch_size": N, "z_dim": 8, "cond_dim": 8, "ngf": 8, "ndf": 8}
    if name == "ebgan":
        tiny["code_dim"] = 8
    cls = get_registry().model(name)
    torch.manual_seed(0)
    return cls(cls.make_config(preset="cpu", overrides={**tiny, **overrides}), text_dim=TEXT_DIM)


class PairKinds:
    """Tells the stub networks which kind of (image, caption) pair they are shown."""

    def __init__(self, batch: dict):
        self.real, self.text = batch["images"], batch["text"]

    def __call__(self, images, text) -> str:
        image = "real" if torch.equal(images, self.real) else "fake"
        if torch.equal(text, self.text):
            caption = "right"
        elif self.mismatched(text):
            caption = "wrong"
        else:
            caption = "other"  # GAN-INT-CLS's interpolated captions
        return f"{image}/{caption}"

    def mismatched(self, text) -> bool:
        """Every row another sample's caption, none its own (EBGAN: a roll; GAN-INT-CLS: drawn)."""
        return all(not torch.equal(t, own) and any(torch.equal(t, other) for other in self.text)
                   for t, own in zip(text, self.text))


class StubGanIntClsD(nn.Module):
    LOGITS = {"real/right": REAL, "real/wrong": INT.flip(0), "fake/right": FAKE, "fake/other": INT}

    def __init__(self, kinds: PairKinds):
        super().__init__()
        self.anchor, self.kinds, self.calls = nn.Parameter(torch.zeros(())), kinds, []

    def forward(self, images, text):
        kind = self.kinds(images, text)
        self.calls.append(kind)
        return self.LOGITS[kind] + self.anchor + 0.0 * images.float().mean()


@pytest.mark.parametrize("cls, interp", [(True, True), (True, False), (False, True), (False, False)])
def test_gan_int_cls_losses(cls, interp):
    """D: real/right -> 1, fake -> 0, (CLS) real/wrong -> 0 with the fake and wrong terms
    averaged; G: fake -> 1, (INT) interpolated-caption fake -> 1, added."""
    model = _model("gan-int-cls", cls=cls, int=interp, loss="bce")  # the paper's loss (the cpu preset's is hinge)
    batch = _batch(16)
    model.netD = StubGanIntClsD(PairKinds(batch))
    losses = model.train_step(batch)
    wrong = StubGanIntClsD.LOGITS["real/wrong"]
    d_real, d_fake, d_wrong = bce_mean(REAL, 1), bce_mean(FAKE, 0), bce_mean(wrong, 0)
    assert close(losses["d_real"], d_real) and close(losses["d_fake"], d_fake)
    assert close(losses["loss_d"], d_real + 0.5 * (d_fake + d_wrong) if cls else d_real + d_fake)
    if cls:
        assert close(losses["d_wrong"], d_wrong)
    g_fake = bce_mean(FAKE, 1)
    assert close(losses["g_fake"], g_fake)
    assert close(losses["loss_g"], g_fake + bce_mean(INT, 1) if interp else g_fake)
    expected_calls = ["real/right", "fake/right"] + (["real/wrong"] if cls else []) + ["fake/right"] \
        + (["fake/other"] if interp else [])
    assert model.netD.calls == expected_calls


def test_gan_int_cls_hinge_losses():
    """loss = hinge: D relu(1 - real) + 0.5 * (relu(1 + fake) + relu(1 + wrong)); G -fake - interpolated."""
    model = _model("gan-int-cls", loss="hinge")
    batch = _batch(16)
    model.netD = StubGanIntClsD(PairKinds(batch))
    losses = model.train_step(batch)
    wrong = StubGanIntClsD.LOGITS["real/wrong"]
    d_real = _mean(max(0.0, 1.0 - x) for x in _floats(REAL))
    d_fake = _mean(max(0.0, 1.0 + x) for x in _floats(FAKE))
    d_wrong = _mean(max(0.0, 1.0 + x) for x in _floats(wrong))
    assert 0 < d_real and 0 < d_fake  # both hinges active on these logits
    assert close(losses["d_real"], d_real) and close(losses["d_fake"], d_fake) and close(losses["d_wrong"], d_wrong)
    assert close(losses["loss_d"], d_real + 0.5 * (d_fake + d_wrong))
    assert close(losses["g_fake"], -_mean(_floats(FAKE)))
    assert close(losses["loss_g"], -_mean(_floats(FAKE)) - _mean(_floats(INT)))


# ---- EBGAN -----------------------------------------------------------------------------------

# Per-sample reconstruction offsets: energy = mean over pixels of (recon - x)^2 = offset^2.
OFFSETS = {"real/right": torch.tensor([0.1, 0.2, 0.3, 0.4]),
           "real/wrong": torch.tensor([0.9, 0.3, 0.6, 0.1]),       # energies 0.81, 0.09, 0.36, 0.01
           "fake/right": torch.tensor([0.3, 0.5, 0.8, 1.1])}       # energies 0.09, 0.25, 0.64, 1.21
CODES = torch.tensor([[1.0, 0.0, 2.0, -1.0], [0.5, 0.5, -1.0, 2.0], [3.0, -1.0, 0.0, 0.5],
                      [-2.0, 1.0, 1.0, 1.0]]).view(N, 4, 1, 1)
MATCH = {"real/right": torch.tensor([2.0, 1.0, -0.5, 3.0]),  # projection scores (projection_weight > 0)
         "real/wrong": torch.tensor([-2.0, 0.5, -1.0, 0.0]),
         "fake/right": torch.tensor([-1.0, 0.5, 2.0, -0.5])}


class StubEnergyD(nn.Module):
    def __init__(self, kinds: PairKinds):
        super().__init__()
        self.anchor, self.kinds = nn.Parameter(torch.zeros(())), kinds

    def forward(self, images, text):
        offset = OFFSETS[self.kinds(images, text)].view(-1, 1, 1, 1)
        recon = images + offset + self.anchor
        match = MATCH[self.kinds(images, text)] + self.anchor
        return recon, CODES + 0.0 * images.float().mean() + self.anchor, match


def energies(kind: str, projection_weight: float = 0.0) -> list[float]:
    """Squared offset (the MSE of a reconstruction off by it everywhere), plus the weighted
    matching penalty -log sigmoid(match), written out."""
    return [x * x + projection_weight * -math.log(1 / (1 + math.exp(-m)))
            for x, m in zip(_floats(OFFSETS[kind]), _floats(MATCH[kind]))]


@pytest.mark.parametrize("cls, pull_away, margin, lambda_pt, projection_weight, projection_fakes", [
    (False, True, 0.5, 0.1, 0.0, False), (True, True, 0.5, 0.3, 0.0, False), (False, False, 0.7, 0.1, 0.0, False),
    (True, False, 0.2, 0.1, 0.0, False), (True, True, 0.5, 0.1, 0.2, False), (False, True, 0.5, 0.1, 0.1, False),
    (True, True, 0.5, 0.1, 0.2, True), (False, True, 1.5, 0.1, 1.0, True)])
def test_ebgan_losses(cls, pull_away, margin, lambda_pt, projection_weight, projection_fakes):
    """D: E(real) + [m - E(fake)]^+ (with CLS: + the wrong pairs' hinge, the two averaged;
    with projection_fakes: + projection_weight * softplus(match(fake)));
    G: E(G(z)) + lambda_pt * PT; E = MSE (+ projection_weight * softplus(-match))."""
    model = _model("ebgan", cls=cls, pull_away=pull_away, margin=margin, lambda_pt=lambda_pt,
                   projection_weight=projection_weight, projection_fakes=projection_fakes)
    batch = _batch(16)
    model.netD = StubEnergyD(PairKinds(batch))
    losses = model.train_step(batch)
    e_real, e_fake, e_wrong = (energies(kind, projection_weight) for kind in ("real/right", "fake/right", "real/wrong"))
    hinge_fake = _mean(max(0.0, margin - e) for e in e_fake)
    hinge_wrong = _mean(max(0.0, margin - e) for e in e_wrong)
    assert 0 < hinge_fake and any(e > margin for e in e_fake)  # the hinge is active for some, not all
    assert close(losses["energy_real"], _mean(e_real)) and close(losses["energy_fake"], _mean(e_fake))
    expected_d = _mean(e_real) + (0.5 * (hinge_fake + hinge_wrong) if cls else hinge_fake)
    if projection_fakes:  # softplus(m) = log(1 + e^m), written out
        match_fake = projection_weight * _mean(math.log(1 + math.exp(m)) for m in _floats(MATCH["fake/right"]))
        assert close(losses["match_fake"], match_fake)
        expected_d += match_fake
    assert close(losses["loss_d"], expected_d)
    pt = pull_away_loop(CODES)
    assert close(losses["energy_g"], _mean(e_fake))
    assert close(losses["loss_g"], _mean(e_fake) + (lambda_pt * pt if pull_away else 0.0))
    if pull_away:
        assert close(losses["pt"], pt)


@pytest.mark.parametrize("seed", [0, 1])
def test_ebgan_pull_away_term_on_random_codes(seed):
    from ganzoo_ebgan.nets import pull_away

    g = torch.Generator().manual_seed(seed)
    codes = torch.randn(5, 3, 2, 2, generator=g)
    assert close(pull_away(codes), pull_away_loop(codes))


def test_ebgan_energy_is_per_sample_mean_squared_error():
    from ganzoo_ebgan.nets import energy

    g = torch.Generator().manual_seed(0)
    x, recon = torch.randn(3, 3, 4, 4, generator=g), torch.randn(3, 3, 4, 4, generator=g)
    got = _floats(energy(recon, x))
    for i in range(3):
        want = _mean((a - b) ** 2 for a, b in zip(_floats(recon[i]), _floats(x[i])))
        assert close(got[i], want)


# ---- VAE -------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_vae_kl_to_prior_closed_form_and_torch_distributions(seed):
    """Summed over z, averaged over the batch."""
    from ganzoo_vae.losses import kl_to_prior

    mu, logvar = _random_gaussians(seed)
    per_image = [sum(gauss_kl(m, lv) for m, lv in zip(_floats(mu[i]), _floats(logvar[i]))) for i in range(len(mu))]
    assert close(kl_to_prior(mu, logvar), _mean(per_image))
    assert close(kl_to_prior(mu, logvar), float(_kl_torch_distributions(mu, logvar).sum(1).mean()))


def test_vae_reconstructions_are_negative_log_likelihoods_up_to_a_constant():
    """mse: Gaussian with variance 1/2; l1: Laplace with scale 1 (per image, summed over pixels)."""
    from torch.distributions import Laplace, Normal

    from ganzoo_vae.losses import reconstruction

    g = torch.Generator().manual_seed(0)
    x, mean = torch.rand(3, 3, 4, 4, generator=g) * 2 - 1, torch.rand(3, 3, 4, 4, generator=g) * 2 - 1
    pixels = 3 * 4 * 4
    nll = -Normal(mean.double(), math.sqrt(0.5)).log_prob(x.double()).flatten(1).sum(1).mean()
    assert close(reconstruction("mse", mean, x), float(nll) - pixels * 0.5 * math.log(math.pi))
    nll = -Laplace(mean.double(), 1.0).log_prob(x.double()).flatten(1).sum(1).mean()
    assert close(reconstruction("l1", mean, x), float(nll) - pixels * math.log(2.0))
    per_image = [sum((a - b) ** 2 for a, b in zip(_floats(mean[i]), _floats(x[i]))) for i in range(3)]
    assert close(reconstruction("mse", mean, x), _mean(per_image))


class StubEncoder(nn.Module):
    def __init__(self, mu, logvar):
        super().__init__()
        self.anchor, self.mu, self.logvar = nn.Parameter(torch.zeros(())), mu, logvar

    def forward(self, images, text):
        return self.mu + self.anchor, self.logvar + self.anchor


class StubDecoder(nn.Module):
    def __init__(self, mean):
        super().__init__()
        self.mean = mean

    def forward(self, z, text):
        return self.mean + 0.0 * z.sum()


@pytest.mark.parametrize("recon, kl_weight", [("mse", 1.0), ("l1", 0.25), ("mse", 0.0)])
def test_vae_train_step_loss_is_the_weighted_negative_elbo(recon, kl_weight):
    model = _model("vae", recon=recon, kl_weight=kl_weight, z_dim=7)
    batch = _batch(16)
    g = torch.Generator().manual_seed(3)
    mu, logvar = torch.randn(N, 7, generator=g), torch.randn(N, 7, generator=g)
    mean = torch.rand(N, 3, 16, 16, generator=g) * 2 - 1
    model.encoder, model.decoder = StubEncoder(mu, logvar), StubDecoder(mean)
    losses = model.train_step(batch)
    kl = _mean(sum(gauss_kl(m, lv) for m, lv in zip(_floats(mu[i]), _floats(logvar[i]))) for i in range(N))
    diff = (mean - batch["images"]).flatten(1)
    rec = _mean(sum((d * d) if recon == "mse" else abs(d) for d in _floats(diff[i])) for i in range(N))
    assert close(losses["kl"], kl) and close(losses["recon"], rec)
    assert close(losses["loss"], rec + kl_weight * kl)
