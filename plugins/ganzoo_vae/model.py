"""The conditional VAE baseline: encoder q(z | x, text), decoder p(x | z, text), prior N(0, I)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.model import GanzooModel
from ganzoo.nn import require
from ganzoo_vae.losses import RECONSTRUCTIONS, kl_to_prior, reconstruction
from ganzoo_vae.nets import Decoder, Encoder


class ConditionalVae(GanzooModel):
    """Text-conditional VAE (see the package docstring for its likelihood and KL weight)."""

    config_file = Path(__file__).with_name("presets.toml")
    description = "Conditional VAE baseline: q(z|x,text), p(x|z,text), samples from the N(0, I) prior"

    def validate(self, config: dict[str, Any]) -> None:
        require(config, power_of_two={"image_size": 16})
        require(config, positive_int=("z_dim", "cond_dim", "ngf", "ndf"), positive=("lr",), non_negative=("kl_weight",),
                unit_interval=("beta1", "beta2"), choices={"recon": RECONSTRUCTIONS})
        require(config, at_least={"batch_size": 2}, why="batch normalisation needs several samples")

    def build(self) -> None:
        c = self.config
        self.encoder = Encoder(self.text_dim, c["cond_dim"], c["ndf"], c["z_dim"], c["image_size"]).to(self.device)
        self.decoder = Decoder(self.text_dim, c["z_dim"], c["cond_dim"], c["ngf"], c["image_size"]).to(self.device)
        params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.opt = torch.optim.Adam(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]))

    def networks(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt}

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        images, text = batch["images"], batch["text"]
        mu, logvar = self.encoder(images, text)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = reconstruction(self.config["recon"], self.decoder(z, text), images)
        kl = kl_to_prior(mu, logvar)
        loss = recon + self.config["kl_weight"] * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder means for z drawn from the prior N(0, I) (or the given z)."""
        text = text.to(self.device)
        z = self.sample_z(text.shape[0]) if z is None else z.to(self.device)
        return self.decoder(z, text)

    # ---- learning-rate schedule: the base class halves these every lr_decay_epoch epochs ----
    def lr_groups(self) -> list[tuple[torch.optim.Optimizer, str]]:
        return [(self.opt, "lr")]
