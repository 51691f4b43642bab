"""ganzoo-mini: the smallest complete ganzoo model plugin.

``mini-gan`` is a conditional GAN whose generator and discriminator are two-layer MLPs
on flattened images: G(z, text) -> image, D(image, text) -> logit, trained with the
non-saturating logistic loss. It is meant to be read, copied and replaced.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ganzoo import hookimpl
from ganzoo.errors import UsageError
from ganzoo.model import GanzooModel

# Every key the model accepts, with its default; presets override some of them.
DEFAULTS: dict[str, Any] = {
    "image_size": 16,
    "z_dim": 16,
    "hidden": 128,
    "batch_size": 32,
    "lr": 2e-4,
    "beta1": 0.5,
}
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {"hidden": 64, "batch_size": 16},
    "tiny": {"extends": "cpu", "image_size": 8, "hidden": 16, "batch_size": 4},
}


class Generator(nn.Module):
    def __init__(self, z_dim: int, text_dim: int, hidden: int, image_size: int):
        super().__init__()
        self.image_size = image_size
        self.net = nn.Sequential(
            nn.Linear(z_dim + text_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, 3 * image_size * image_size), nn.Tanh())

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, text], 1)).view(-1, 3, self.image_size, self.image_size)


class Discriminator(nn.Module):
    def __init__(self, text_dim: int, hidden: int, image_size: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(3 * image_size * image_size + text_dim, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1))

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([images.flatten(1), text], 1)).squeeze(1)


class MiniGan(GanzooModel):
    description = "a tiny conditional MLP GAN (example third-party plugin)"

    @classmethod
    def defaults_and_presets(cls):
        return dict(DEFAULTS), {name: dict(table) for name, table in PRESETS.items()}

    def validate(self, config: dict[str, Any]) -> None:
        if config["image_size"] < 4:
            raise UsageError(f"mini-gan needs image_size >= 4, got {config['image_size']}")

    def build(self) -> None:
        c = self.config
        self.G = Generator(self.z_dim, self.text_dim, c["hidden"], self.image_size).to(self.device)
        self.D = Discriminator(self.text_dim, c["hidden"], self.image_size).to(self.device)
        betas = (c["beta1"], 0.999)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=c["lr"], betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=c["lr"], betas=betas)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "D": self.opt_D}

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        real = batch["images"].to(self.device)
        text = batch["text"].to(self.device)
        fake = self.G(self.sample_z(len(real)), text)

        # Discriminator: real pairs -> 1, generated pairs -> 0.
        real_logit, fake_logit = self.D(real, text), self.D(fake.detach(), text)
        loss_d = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                  + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_D.step()

        # Generator: make D call its images real (non-saturating loss).
        gen_logit = self.D(fake, text)
        loss_g = F.binary_cross_entropy_with_logits(gen_logit, torch.ones_like(gen_logit))
        self.opt_G.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_G.step()
        return {"loss_D": loss_d.detach(), "loss_G": loss_g.detach()}

    @torch.no_grad()
    def generate(self, text: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        text = text.to(self.device)
        z = self.sample_z(len(text)) if z is None else z.to(self.device)
        return self.G(z, text)


@hookimpl
def register_models(register):
    register("mini-gan", MiniGan, MiniGan.description)
