"""The conditional VAE baseline: encoder q(z | x, text), decoder p(x | z, text), prior N(0, I)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.errors import UsageError
from ganzoo.model import GanzooModel
from ganzoo_vae.losses import RECONSTRUCTIONS, kl_to_prior, reconstruction
from ganzoo_vae.nets import Decoder, Encoder

POSITIVE_INTS = ("batch_size", "z_dim", "cond_dim", "ngf", "ndf")


def check_image_size(size: Any) -> None:
    if not isinstance(size, int) or size < 16 or size & (size - 1):
        raise UsageError(f"image_size must be a power of two >= 16 (16, 32, 64, 128, ...), got {size!r}")


class ConditionalVae(GanzooModel):
    """Text-conditional VAE (see the package docstring for its likelihood and KL weight)."""

    config_file = Path(__file__).with_name("presets.toml")
    description = "Conditional VAE baseline: q(z|x,text), p(x|z,text), samples from the N(0, I) prior"

    def validate(self, config: dict[str, Any]) -> None:
        check_image_size(config["image_size"])
        for key in POSITIVE_INTS:
            if not isinstance(config[key], int) or config[key] < 1:
                raise UsageError(f"{key} must be a positive integer, got {config[key]!r}")
        if config["batch_size"] < 2:
            raise UsageError("batch_size must be >= 2 (batch normalisation needs several samples)")
        if config["recon"] not in RECONSTRUCTIONS:
            raise UsageError(f"recon must be one of {', '.join(RECONSTRUCTIONS)}, got {config['recon']!r}")
        if config["kl_weight"] < 0:
            raise UsageError(f"kl_weight must be >= 0, got {config['kl_weight']!r}")
        if config["lr"] <= 0:
            raise UsageError(f"lr must be > 0, got {config['lr']!r}")
        for key in ("beta1", "beta2"):
            if not 0 <= config[key] < 1:
                raise UsageError(f"{key} must be in [0, 1), got {config[key]!r}")
        if config["lr_decay_epoch"] < 0:
            raise UsageError("lr_decay_epoch must be >= 0 (0 disables the decay)")
        if self.text_dim < 1:
            raise UsageError(f"text_dim must be >= 1, got {self.text_dim}")

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
