"""The text-conditional EBGAN model: hinge energy loss for the autoencoder, pull-away term for G."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from ganzoo.errors import UsageError
from ganzoo.model import GanzooModel
from ganzoo_ebgan.nets import EnergyAutoencoder, Generator, energy, pull_away

POSITIVE_INTS = ("batch_size", "z_dim", "cond_dim", "ngf", "ndf", "code_dim")
POSITIVE_FLOATS = ("lr_g", "lr_d", "margin")


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


class Ebgan(GanzooModel):
    """Zhao et al. 2017, EBGAN with text conditioning (see the package docstring for choices)."""

    config_file = Path(__file__).with_name("presets.toml")
    description = "EBGAN (Zhao et al. 2017), text-conditional: autoencoder energy D, margin loss, pull-away term"

    def validate(self, config: dict[str, Any]) -> None:
        check_image_size(config["image_size"])
        for key in POSITIVE_INTS:
            if not isinstance(config[key], int) or config[key] < 1:
                raise UsageError(f"{key} must be a positive integer, got {config[key]!r}")
        if config["batch_size"] < 2:
            raise UsageError("batch_size must be >= 2 (the pull-away term compares samples in a batch)")
        for key in POSITIVE_FLOATS:
            if config[key] <= 0:
                raise UsageError(f"{key} must be > 0, got {config[key]!r}")
        if config["lambda_pt"] < 0:
            raise UsageError(f"lambda_pt must be >= 0, got {config['lambda_pt']!r}")
        for key in ("beta1", "beta2"):
            if not 0 <= config[key] < 1:
                raise UsageError(f"{key} must be in [0, 1), got {config[key]!r}")
        if config["lr_decay_epoch"] < 0:
            raise UsageError("lr_decay_epoch must be >= 0 (0 disables the decay)")
        if not isinstance(config["pretrain_d_steps"], int) or config["pretrain_d_steps"] < 0:
            raise UsageError(f"pretrain_d_steps must be an integer >= 0, got {config['pretrain_d_steps']!r}")
        if self.text_dim < 1:
            raise UsageError(f"text_dim must be >= 1, got {self.text_dim}")

    def build(self) -> None:
        c = self.config
        self.netG = Generator(self.text_dim, c["z_dim"], c["cond_dim"], c["ngf"], c["image_size"]).to(self.device)
        self.netD = EnergyAutoencoder(self.text_dim, c["cond_dim"], c["ndf"], c["code_dim"],
                                      c["image_size"]).to(self.device)
        betas = (c["beta1"], c["beta2"])
        self.opt_g = torch.optim.Adam(self.netG.parameters(), lr=c["lr_g"], betas=betas)
        self.opt_d = torch.optim.Adam(self.netD.parameters(), lr=c["lr_d"], betas=betas)

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.netG, "discriminator": self.netD}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def energy(self, images: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-sample energy, code) of image/caption pairs under the current autoencoder."""
        recon, code = self.netD(images, text)
        return energy(recon, images), code

    #: training steps taken so far (drives the optional autoencoder pre-training; saved with the model)
    steps_done: int = 0

    @property
    def phase(self) -> str:
        return "pretrain_d" if self.steps_done < int(self.config["pretrain_d_steps"]) else "train"

    def pretrain_step(self, real: torch.Tensor, text: torch.Tensor) -> dict[str, torch.Tensor]:
        """The paper's autoencoder pre-training: reconstruct real images alone (no G, no hinge)."""
        self.opt_d.zero_grad(set_to_none=True)
        e_real, _ = self.energy(real, text)
        loss_d = e_real.mean()
        loss_d.backward()
        self.opt_d.step()
        self.steps_done += 1
        return {"energy_real": loss_d.detach(), "loss_d": loss_d.detach()}

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        real, text = batch["images"], batch["text"]
        n = real.shape[0]
        if n < 2:
            raise UsageError("EBGAN needs batches of at least 2 samples")
        if self.steps_done < int(self.config["pretrain_d_steps"]):
            return self.pretrain_step(real, text)
        self.steps_done += 1
        margin = self.config["margin"]
        fake = self.netG(torch.randn(n, self.z_dim, device=self.device), text)
        losses: dict[str, torch.Tensor] = {}

        # Autoencoder: pull real energies down, push fake energies up to the margin.
        self.opt_d.zero_grad(set_to_none=True)
        e_real, _ = self.energy(real, text)
        e_fake, _ = self.energy(fake.detach(), text)
        losses["energy_real"], losses["energy_fake"] = e_real.mean(), e_fake.mean()
        hinge_fake = (margin - e_fake).clamp_min(0).mean()
        if self.config["cls"]:
            e_wrong, _ = self.energy(real, text.roll(1, dims=0))
            losses["energy_wrong"] = e_wrong.mean()
            loss_d = losses["energy_real"] + 0.5 * (hinge_fake + (margin - e_wrong).clamp_min(0).mean())
        else:
            loss_d = losses["energy_real"] + hinge_fake
        loss_d.backward()
        self.opt_d.step()

        # Generator: low energy for its samples, (PT) and diverse codes.
        self.opt_g.zero_grad(set_to_none=True)
        with frozen(self.netD):
            e_gen, code = self.energy(fake, text)
            losses["energy_g"] = e_gen.mean()
            loss_g = losses["energy_g"]
            if self.config["pull_away"]:
                losses["pt"] = pull_away(code)
                loss_g = loss_g + self.config["lambda_pt"] * losses["pt"]
            loss_g.backward()
        self.opt_g.step()

        losses["loss_d"], losses["loss_g"] = loss_d, loss_g
        return {k: v.detach() for k, v in losses.items()}

    @torch.no_grad()
    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        text = text.to(self.device)
        z = self.sample_z(text.shape[0]) if z is None else z.to(self.device)
        return self.netG(z, text)

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "steps_done": self.steps_done}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        super().load_extra_state(extra)
        self.steps_done = int(extra.get("steps_done", 0))

    # ---- learning-rate schedule: the base class halves these every lr_decay_epoch epochs ----
    def lr_groups(self) -> list[tuple[torch.optim.Optimizer, str]]:
        return [(self.opt_g, "lr_g"), (self.opt_d, "lr_d")]
