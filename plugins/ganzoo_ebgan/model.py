"""The text-conditional EBGAN model: hinge energy loss for the autoencoder, pull-away term for G."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ganzoo.errors import UsageError
from ganzoo.nn import GanModel, TextDCGANGenerator, add_spectral_norm, frozen, require
from ganzoo_ebgan.nets import EnergyAutoencoder, energy, matching_penalty, pull_away


class Ebgan(GanModel):
    """Zhao et al. 2017, EBGAN with text conditioning (see the package docstring for choices)."""

    config_file = Path(__file__).with_name("presets.toml")
    description = "EBGAN (Zhao et al. 2017), text-conditional: autoencoder energy D, margin loss, pull-away term"

    def validate(self, config: dict[str, Any]) -> None:
        super().validate(config)
        require(config, positive_int=("code_dim",), positive=("margin",), non_negative=("lambda_pt", "projection_weight"),
                non_negative_int=("pretrain_d_steps",))
        if config["projection_fakes"] and not config["projection_weight"] > 0:
            raise UsageError("ebgan: projection_fakes = true needs a projection term; set projection_weight > 0 "
                             "(for example --set projection_weight=1) or leave projection_fakes false")

    def make_networks(self) -> tuple[nn.Module, nn.Module]:
        c = self.config
        netD = EnergyAutoencoder(self.text_dim, c["cond_dim"], c["ndf"], c["code_dim"], c["image_size"],
                                 projection=c["projection_weight"] > 0, batch_norm=c["d_batchnorm"])
        return (TextDCGANGenerator(self.text_dim, c["z_dim"], c["cond_dim"], c["ngf"], c["image_size"]),
                add_spectral_norm(netD) if c["spectral_norm"] else netD)

    def energy(self, images: torch.Tensor, text: torch.Tensor, with_match: bool = False):
        """(per-sample energy, code) of image/caption pairs under the current autoencoder:
        reconstruction MSE, plus ``projection_weight`` * softplus(-match) when that is > 0;
        with ``with_match``, (energy, code, match)."""
        recon, code, match = self.netD(images, text)
        e = energy(recon, images)
        weight = float(self.config["projection_weight"])
        if weight > 0:
            e = e + weight * matching_penalty(match)
        return (e, code, match) if with_match else (e, code)

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
        e_fake, _, match_fake = self.energy(fake.detach(), text, with_match=True)
        losses["energy_real"], losses["energy_fake"] = e_real.mean(), e_fake.mean()
        hinge_fake = (margin - e_fake).clamp_min(0).mean()
        if self.config["cls"]:
            e_wrong, _ = self.energy(real, text.roll(1, dims=0))
            losses["energy_wrong"] = e_wrong.mean()
            loss_d = losses["energy_real"] + 0.5 * (hinge_fake + (margin - e_wrong).clamp_min(0).mean())
        else:
            loss_d = losses["energy_real"] + hinge_fake
        if self.config["projection_fakes"] and match_fake is not None:
            # the projection also calls G's samples mismatched, whatever their energy's margin
            losses["match_fake"] = float(self.config["projection_weight"]) * F.softplus(match_fake.float()).mean()
            loss_d = loss_d + losses["match_fake"]
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

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "steps_done": self.steps_done}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        super().load_extra_state(extra)
        self.steps_done = int(extra.get("steps_done", 0))
