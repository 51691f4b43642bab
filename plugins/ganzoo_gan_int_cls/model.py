"""The GAN-INT-CLS model: matching-aware discriminator (CLS) and text interpolation (INT)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.errors import UsageError
from ganzoo.nn import LOSSES, AdversarialLoss, GanModel, add_spectral_norm, frozen, require
from ganzoo_gan_int_cls.nets import Discriminator, Generator
from ganzoo_gan_int_cls.pairs import mean_of_captions, wrong_partners


#: how D joins the text to the image features: the authors' concatenation, or a projection head
D_CONDS = ("concat", "projection")


class GanIntCls(GanModel):
    """Reed et al. 2016, GAN-INT-CLS (see the package docstring for deviations)."""

    config_file = Path(__file__).with_name("presets.toml")
    description = "GAN-INT-CLS (Reed et al. 2016): DCGAN with matching-aware D and text interpolation"

    def validate(self, config: dict[str, Any]) -> None:
        super().validate(config)
        require(config, positive_int=("caption_mean",), choices={"loss": LOSSES, "d_cond": D_CONDS})

    def build(self) -> None:
        self.adv = AdversarialLoss(self.config["loss"])
        super().build()

    def make_networks(self) -> tuple[nn.Module, nn.Module]:
        c = self.config
        netD = Discriminator(self.text_dim, c["cond_dim"], c["ndf"], c["image_size"], c["residual"],
                             c["d_batchnorm"], c["d_cond"] == "projection")
        return (Generator(self.text_dim, c["z_dim"], c["cond_dim"], c["ngf"], c["image_size"], c["residual"]),
                add_spectral_norm(netD) if c["spectral_norm"] else netD)

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        real = batch["images"]
        text = mean_of_captions(batch["text"], int(self.config["caption_mean"]))
        n = real.shape[0]
        if n < 2:
            raise UsageError("GAN-INT-CLS needs batches of at least 2 samples")
        fake = self.netG(torch.randn(n, self.z_dim, device=self.device), text)
        losses: dict[str, torch.Tensor] = {}

        # Discriminator: real/right text -> 1, fake -> 0, (CLS) real/wrong text -> 0.
        self.opt_d.zero_grad(set_to_none=True)
        losses["d_real"] = self.adv.d_real(self.netD(real, text))
        losses["d_fake"] = self.adv.d_fake(self.netD(fake.detach(), text))
        if self.config["cls"]:
            partner, valid = wrong_partners(text)  # another sample's caption, never equal to the right one
            losses["d_wrong"] = self.adv.d_fake(self.netD(real, text[partner]), weight=valid)
            loss_d = losses["d_real"] + 0.5 * (losses["d_fake"] + losses["d_wrong"])
        else:
            loss_d = losses["d_real"] + losses["d_fake"]
        loss_d.backward()
        self.opt_d.step()

        # Generator: fool D on the same fakes, (INT) and on interpolated captions.
        self.opt_g.zero_grad(set_to_none=True)
        with frozen(self.netD):
            losses["g_fake"] = self.adv.g(self.netD(fake, text))
            loss_g = losses["g_fake"]
            if self.config["int"]:
                mixed = 0.5 * (text + text.roll(1, dims=0))
                fake_int = self.netG(torch.randn(n, self.z_dim, device=self.device), mixed)
                losses["g_int"] = self.adv.g(self.netD(fake_int, mixed))
                loss_g = loss_g + losses["g_int"]
            loss_g.backward()
        self.opt_g.step()

        losses["loss_d"], losses["loss_g"] = loss_d, loss_g
        return {k: v.detach() for k, v in losses.items()}

    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Images for ``text`` (B, D); given (B, K, D), for the mean of each row's K embeddings."""
        return super().generate(text.mean(1) if text.dim() == 3 else text, z)
