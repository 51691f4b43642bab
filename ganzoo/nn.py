"""Shared building blocks for model plugins, built-in or third-party.

Everything here is optional: a plugin may use any of it and nothing in ganzoo requires it.

- :func:`require`: the usual config range checks, raising :class:`ganzoo.errors.UsageError`.
- :func:`dcgan_init`: DCGAN weight init (N(0, 0.02) weights, N(1, 0.02) BN scales, zero biases).
- :func:`doublings`, :func:`level_widths`: channels per resolution level of a DCGAN-style stack.
- :func:`down_layers`, :func:`up_layers`, :func:`text_projection`, :func:`tile`, :class:`TextDCGANGenerator`:
  the DCGAN trunks and text injection of Reed et al. (2016) that several plugins share.
- :func:`frozen`: a discriminator's G-step context (no weight gradients, no DDP gradient sync).
- :class:`AdversarialLoss`: GAN losses on logits (BCE in softplus form, or hinge), float32.
- :func:`add_spectral_norm`: spectral normalisation on every conv and linear layer of a discriminator.
- :class:`GanModel`: a model of one generator and one discriminator, each with its own Adam.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, Iterable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.errors import UsageError
from ganzoo.model import GanzooModel

# ---- config checks ---------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


#: check name -> (test, what the value must be)
_CHECKS = {
    "positive_int": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "non_negative_int": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "positive": (lambda v: _is_number(v) and v > 0, "> 0"),
    "non_negative": (lambda v: _is_number(v) and v >= 0, ">= 0"),
    "unit_interval": (lambda v: _is_number(v) and 0 <= v < 1, "in [0, 1)"),
}


def require(config: Mapping[str, Any], *, positive_int: Iterable[str] = (), non_negative_int: Iterable[str] = (),
            positive: Iterable[str] = (), non_negative: Iterable[str] = (), unit_interval: Iterable[str] = (),
            at_least: Mapping[str, int] | None = None, power_of_two: Mapping[str, int] | None = None,
            choices: Mapping[str, Iterable[Any]] | None = None, prefix: str = "", why: str = "") -> None:
    """Raise :class:`UsageError` naming the first key of ``config`` out of its range.

    ``at_least={"batch_size": 2}``: an integer >= 2; ``power_of_two={"image_size": 16}``: a power
    of two >= 16; ``choices={"loss": ("bce", "hinge")}``. ``prefix`` starts every message (e.g. the
    model's name), ``why`` ends it in parentheses.
    """
    tail = f" ({why})" if why else ""

    def fail(key: str, must: str) -> None:
        raise UsageError(f"{prefix}{key} must be {must}, got {config[key]!r}{tail}")

    for check, keys in (("positive_int", positive_int), ("non_negative_int", non_negative_int),
                        ("positive", positive), ("non_negative", non_negative), ("unit_interval", unit_interval)):
        test, must = _CHECKS[check]
        for key in keys:
            if not test(config[key]):
                fail(key, must)
    for key, low in (at_least or {}).items():
        if not (_is_int(config[key]) and config[key] >= low):
            fail(key, f"an integer >= {low}")
    for key, low in (power_of_two or {}).items():
        v = config[key]
        if not (_is_int(v) and v >= low and v & (v - 1) == 0):
            fail(key, f"a power of two >= {low} ({low}, {2 * low}, {4 * low}, ...)")
    for key, allowed in (choices or {}).items():
        allowed = tuple(allowed)
        if config[key] not in allowed:
            fail(key, f"one of {', '.join(map(str, allowed))}")


# ---- initialisation and widths ---------------------------------------------------------------


@torch.no_grad()
def dcgan_init(module: nn.Module, *, conv_bias: bool = False, linear: bool = True) -> nn.Module:
    """DCGAN init of every submodule, in ``module.modules()`` order: conv weights N(0, 0.02) and
    biases 0 (``conv_bias=True`` keeps their PyTorch init, as StackGAN's reference); linear weights
    N(0, 0.02) and biases 0 (``linear=False`` keeps PyTorch's init, as Torch7 code that only
    initialises convolutions); batch-norm scales N(1, 0.02) and shifts 0."""
    for m in module.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            m.weight.normal_(0.0, 0.02)
            if m.bias is not None and not conv_bias:
                m.bias.zero_()
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            m.weight.normal_(1.0, 0.02)
            m.bias.zero_()
        elif isinstance(m, nn.Linear) and linear:
            m.weight.normal_(0.0, 0.02)
            if m.bias is not None:
                m.bias.zero_()
    return module


def doublings(size: int, start: int = 4) -> int:
    """How many x2 steps lead from a ``start`` x ``start`` map to ``size`` (a power of two)."""
    return (size // start).bit_length() - 1


def level_widths(width: int, image_size: int) -> list[int]:
    """Channels of a DCGAN stack's maps at 4, 8, ..., image_size / 2 (4x4 first): 8 * width at
    4x4, halving per doubling, never below ``width``. 64 px: 8w, 4w, 2w, w (the DCGAN layout)."""
    return [width * max(1, 8 >> i) for i in range(doublings(image_size))]


# ---- DCGAN trunks and text injection (Reed et al. 2016) --------------------------------------


def down_layers(widths: list[int], batch_norm: bool = True) -> list[nn.Module]:
    """A DCGAN discriminator trunk from RGB through ``widths`` (largest map first): 4x4 stride-2
    convs, LeakyReLU(0.2), BN on all but the first conv (which keeps a bias); without
    ``batch_norm`` every conv keeps a bias and there is no BN."""
    layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for c_in, c_out in zip(widths, widths[1:]):
        norm = [nn.BatchNorm2d(c_out)] if batch_norm else []
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not batch_norm), *norm, nn.LeakyReLU(0.2, True)]
    return layers


def up_layers(c_in: int, widths: list[int], batch_norm: bool = True) -> list[nn.Module]:
    """From a 4x4 map of ``c_in`` channels: transposed convs (BN, ReLU) through ``widths[1:]``,
    then one to RGB (with bias) and tanh; ``widths`` as :func:`level_widths` gives them.
    Without ``batch_norm`` the convs keep a bias and there is no BN."""
    layers: list[nn.Module] = []
    for c_out in widths[1:]:
        norm = [nn.BatchNorm2d(c_out)] if batch_norm else []
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=not batch_norm), *norm, nn.ReLU(True)]
        c_in = c_out
    return layers + [nn.ConvTranspose2d(c_in, 3, 4, 2, 1), nn.Tanh()]


def text_projection(text_dim: int, cond_dim: int, batch_norm: bool = False, bias: bool = True) -> nn.Sequential:
    """fc(text) [+ BN] + LeakyReLU(0.2): GAN-INT-CLS's text features (G without BN, D with)."""
    layers: list[nn.Module] = [nn.Linear(text_dim, cond_dim, bias=bias)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(cond_dim))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2, True))


def tile(features: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B, C) -> (B, C, H, W), replicated over the spatial size of ``like``."""
    return features[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])


class ProjectionLogits(nn.Module):
    """The ``d_cond=projection`` variant (Miyato & Koyama 2018): psi(h) + <embed(cond), h>,
    h = sum-pooled features. A stronger conditioning signal than concatenation."""

    def __init__(self, channels: int, c_dim: int):
        super().__init__()
        self.linear = nn.Linear(channels, 1)
        self.embed = nn.Linear(c_dim, channels, bias=False)

    def forward(self, features: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = features.sum(dim=(2, 3))
        return self.linear(h).view(-1) + (self.embed(cond) * h).sum(1)


class TextDCGANGenerator(nn.Module):
    """G(z, t): text_projection(t) concatenated with z -> 4x4 transposed conv (BN, ReLU) to
    8 * ngf channels -> :func:`up_layers` to a tanh image. DCGAN-initialised."""

    def __init__(self, text_dim: int, z_dim: int, cond_dim: int, ngf: int, image_size: int):
        super().__init__()
        self.text = text_projection(text_dim, cond_dim)
        widths = level_widths(ngf, image_size)
        self.body = nn.Sequential(
            nn.ConvTranspose2d(z_dim + cond_dim, widths[0], 4, 1, 0, bias=False), nn.BatchNorm2d(widths[0]),
            nn.ReLU(True), *up_layers(widths[0], widths))
        dcgan_init(self)

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, self.text(text)], dim=1)
        return self.body(h[:, :, None, None])


# ---- training helpers ------------------------------------------------------------------------


@contextmanager
def frozen(net: nn.Module) -> Iterator[None]:
    """No weight gradients for ``net`` inside the block (a G step needs gradients through D, not
    of D); under DDP also no gradient sync for that pass. ``requires_grad`` flags are restored."""
    sync = net.no_sync() if hasattr(net, "no_sync") else nullcontext()
    flags = [p.requires_grad for p in net.parameters()]
    with sync:
        net.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in zip(net.parameters(), flags):
                p.requires_grad_(flag)


LOSSES = ("bce", "hinge")


class AdversarialLoss:
    """GAN losses on logits, computed in float32 (autocast-safe). ``bce``: softplus(-x) =
    BCE(sigmoid(x), 1) and softplus(x) = BCE(sigmoid(x), 0), the non-saturating G loss;
    ``hinge``: relu(1 - x) / relu(1 + x) for D, -mean(x) for G. Each term is a batch mean;
    ``weight`` (0/1 per sample) restricts it to the samples weighted 1 (0 when there are none)."""

    def __init__(self, kind: str = "bce"):
        if kind not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")
        self.kind = kind

    @staticmethod
    def _mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
        if weight is None:
            return values.mean()
        weight = weight.to(values.dtype)
        return (values * weight).sum() / weight.sum().clamp_min(1.0)

    def d_real(self, logits: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """D's loss on pairs it should call real (label 1)."""
        logits = logits.float()
        return self._mean(F.relu(1.0 - logits) if self.kind == "hinge" else F.softplus(-logits), weight)

    def d_fake(self, logits: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """D's loss on pairs it should call fake (label 0): fakes and wrong pairs."""
        logits = logits.float()
        return self._mean(F.relu(1.0 + logits) if self.kind == "hinge" else F.softplus(logits), weight)

    def g(self, logits: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """G's loss on its fakes: BCE(fake, 1) for bce, -mean(logits) for hinge."""
        logits = logits.float()
        return self._mean(-logits if self.kind == "hinge" else F.softplus(-logits), weight)


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every conv and linear layer of ``module``."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            spectral_norm(m)
    return module


class GanModel(GanzooModel):
    """A :class:`GanzooModel` of a generator ``netG`` and a discriminator ``netD`` (networks and
    optimisers named "generator" and "discriminator"), each with its own Adam (config keys
    ``lr_g``, ``lr_d``, ``beta1``, ``beta2``), both halved by the default schedule; ``generate``
    is ``netG(z, text)``. Subclasses implement :meth:`make_networks` and ``train_step``.

    :meth:`validate` checks the DCGAN keys (``image_size`` a power of two >= 16, ``z_dim``,
    ``cond_dim``, ``ngf``, ``ndf``, the learning rates and betas, ``batch_size`` >= 2 since GAN
    losses here pair samples in a batch); a subclass adds its own after ``super().validate``.
    """

    def make_networks(self) -> tuple[nn.Module, nn.Module]:
        """(generator, discriminator), built in that order from ``self.config``."""
        raise NotImplementedError

    def validate(self, config: dict[str, Any]) -> None:
        require(config, power_of_two={"image_size": 16})
        require(config, positive_int=("z_dim", "cond_dim", "ngf", "ndf"), positive=("lr_g", "lr_d"),
                unit_interval=("beta1", "beta2"))
        require(config, at_least={"batch_size": 2}, why="the losses pair samples in a batch")

    def build(self) -> None:
        c = self.config
        netG, netD = self.make_networks()
        self.netG, self.netD = netG.to(self.device), netD.to(self.device)
        betas = (c["beta1"], c["beta2"])
        self.opt_g = torch.optim.Adam(self.netG.parameters(), lr=c["lr_g"], betas=betas)
        self.opt_d = torch.optim.Adam(self.netD.parameters(), lr=c["lr_d"], betas=betas)

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.netG, "discriminator": self.netD}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def lr_groups(self) -> list[tuple[torch.optim.Optimizer, str]]:
        return [(self.opt_g, "lr_g"), (self.opt_d, "lr_d")]

    @torch.no_grad()
    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        text = text.to(self.device)
        z = self.sample_z(text.shape[0]) if z is None else z.to(self.device)
        return self.netG(z, text)
