"""The GAN-INT-CLS model: matching-aware discriminator (CLS) and text interpolation (INT)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.errors import UsageError
from ganzoo.model import GanzooModel
from ganzoo_gan_int_cls.nets import Discriminator, Generator

POSITIVE_INTS = ("batch_size", "z_dim", "cond_dim", "ngf", "ndf")
POSITIVE_FLOATS = ("lr_g", "lr_d")


def check_image_size(size: Any) -> None:
    if not isinstance(size, int) or size < 16 or size & (size - 1):
        raise UsageError(f"image_size must be a power of two >= 16 (16, 32, 64, 128, ...), got {size!r}")


@contextmanager
def frozen(net: nn.Module) -> Iterator[None]:
    """Skip weight gradients of ``net`` (the G step needs gradients through D, not of D)."""
    flags = [p.requires_grad for p in net.parameters()]
    net.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(net.parameters(), flags):
            p.requires_grad_(flag)


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class GanIntCls(GanzooModel):
    """Reed et al. 2016, GAN-INT-CLS (see the package docstring for deviations)."""

    config_file = Path(__file__).with_name("presets.toml")
    description = "GAN-INT-CLS (Reed et al. 2016): DCGAN with matching-aware D and text interpolation"

    def validate(self, config: dict[str, Any]) -> None:
        check_image_size(config["image_size"])
        for key in POSITIVE_INTS:
            if not isinstance(config[key], int) or config[key] < 1:
                raise UsageError(f"{key} must be a positive integer, got {config[key]!r}")
        if config["batch_size"] < 2:
            raise UsageError("batch_size must be >= 2 (wrong pairs and interpolations pair samples in a batch)")
        for key in POSITIVE_FLOATS:
            if config[key] <= 0:
                raise UsageError(f"{key} must be > 0, got {config[key]!r}")
        for key in ("beta1", "beta2"):
            if not 0 <= config[key] < 1:
                raise UsageError(f"{key} must be in [0, 1), got {config[key]!r}")
        if config["lr_decay_epoch"] < 0:
            raise UsageError("lr_decay_epoch must be >= 0 (0 disables the decay)")
        if self.text_dim < 1:
            raise UsageError(f"text_dim must be >= 1, got {self.text_dim}")

    def build(self) -> None:
        c = self.config
        self.netG = Generator(self.text_dim, c["z_dim"], c["cond_dim"], c["ngf"], c["image_size"]).to(self.device)
        self.netD = Discriminator(self.text_dim, c["cond_dim"], c["ndf"], c["image_size"]).to(self.device)
        betas = (c["beta1"], c["beta2"])
        self.opt_g = torch.optim.Adam(self.netG.parameters(), lr=c["lr_g"], betas=betas)
        self.opt_d = torch.optim.Adam(self.netD.parameters(), lr=c["lr_d"], betas=betas)

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.netG, "discriminator": self.netD}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        real, text = batch["images"], batch["text"]
        n = real.shape[0]
        if n < 2:
            raise UsageError("GAN-INT-CLS needs batches of at least 2 samples")
        fake = self.netG(torch.randn(n, self.z_dim, device=self.device), text)
        losses: dict[str, torch.Tensor] = {}

        # Discriminator: real/right text -> 1, fake -> 0, (CLS) real/wrong text -> 0.
        self.opt_d.zero_grad(set_to_none=True)
        losses["d_real"] = bce(self.netD(real, text), 1.0)
        losses["d_fake"] = bce(self.netD(fake.detach(), text), 0.0)
        if self.config["cls"]:
            losses["d_wrong"] = bce(self.netD(real, text.roll(1, dims=0)), 0.0)
            loss_d = losses["d_real"] + 0.5 * (losses["d_fake"] + losses["d_wrong"])
        else:
            loss_d = losses["d_real"] + losses["d_fake"]
        loss_d.backward()
        self.opt_d.step()

        # Generator: fool D on the same fakes, (INT) and on interpolated captions.
        self.opt_g.zero_grad(set_to_none=True)
        with frozen(self.netD):
            losses["g_fake"] = bce(self.netD(fake, text), 1.0)
            loss_g = losses["g_fake"]
            if self.config["int"]:
                mixed = 0.5 * (text + text.roll(1, dims=0))
                fake_int = self.netG(torch.randn(n, self.z_dim, device=self.device), mixed)
                losses["g_int"] = bce(self.netD(fake_int, mixed), 1.0)
                loss_g = loss_g + losses["g_int"]
            loss_g.backward()
        self.opt_g.step()

        losses["loss_d"], losses["loss_g"] = loss_d, loss_g
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        text = text.to(self.device)
        z = self.sample_z(text.shape[0]) if z is None else z.to(self.device)
        return self.netG(z, text)

    # ---- learning-rate schedule: the base class halves these every lr_decay_epoch epochs ----
    def lr_groups(self) -> list[tuple[torch.optim.Optimizer, str]]:
        return [(self.opt_g, "lr_g"), (self.opt_d, "lr_d")]
