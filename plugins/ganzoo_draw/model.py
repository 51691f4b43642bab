"""The ``draw`` model: alignDRAW under ganzoo's word-level model contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.errors import UsageError
from ganzoo.model import GanzooModel
from ganzoo.nn import require
from ganzoo_draw.nets import AlignDraw

POSITIVE_INTS = ("batch_size", "steps", "z_dim", "enc_dim", "dec_dim", "lang_dim", "align_dim")
OPTIMIZERS = ("rmsprop", "adam")


class AlignDrawModel(GanzooModel):
    """alignDRAW (Mansimov et al., ICLR 2016); see the package docstring for every choice."""

    config_file = Path(__file__).with_name("presets.toml")
    description = "alignDRAW: recurrent VAE with DRAW read/write attention and soft alignment over caption words"
    conditioning = "words"

    def validate(self, config: dict[str, Any]) -> None:
        require(config, positive_int=POSITIVE_INTS, at_least={"image_size": 4}, choices={"optimizer": OPTIMIZERS},
                positive=("init_std",))
        require(config, non_negative=("grad_clip",), why="0: no clipping")
        require(config, non_negative=("free_nats",), why="0: the plain bound")
        for key in ("read_n", "write_n"):
            if not isinstance(config[key], int) or not 2 <= config[key] <= config["image_size"]:
                raise UsageError(f"{key} (attention grid) must be an integer in 2..image_size, got {config[key]!r}")

    def build(self) -> None:
        c = self.config
        self.draw = AlignDraw(len(self.vocab), c["image_size"], 3, c["steps"], c["z_dim"], c["enc_dim"],
                              c["dec_dim"], c["lang_dim"], c["align_dim"], c["read_n"], c["write_n"],
                              align=bool(c["align"]), canvas_init=float(c["canvas_init"]),
                              init_std=float(c["init_std"])).to(self.device)
        if c["optimizer"] == "rmsprop":
            self.opt = torch.optim.RMSprop(self.draw.parameters(), lr=c["lr"], alpha=0.9, eps=1e-6)
        else:
            self.opt = torch.optim.Adam(self.draw.parameters(), lr=c["lr"])

    def networks(self) -> dict[str, nn.Module]:
        return {"draw": self.draw}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"draw": self.opt}

    def lr_groups(self) -> list[tuple[torch.optim.Optimizer, str]]:
        return [(self.opt, "lr")]

    @property
    def z_dim(self) -> int:
        """Noise per sample: one z_dim vector per step, flattened (T * z_dim)."""
        return int(self.config["steps"]) * int(self.config["z_dim"])

    def bound(self, images: torch.Tensor, text, per_step: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch means of the two terms of the negative variational bound (nats per image);
        with ``per_step`` the KL term comes as (T,), one batch mean per glimpse."""
        recon, kl = self.draw((images + 1) / 2, text.tokens, text.mask, per_step=per_step)
        return recon.mean(), kl.mean(0)

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        recon, kl_steps = self.bound(batch["images"], batch["text"], per_step=True)
        kl = kl_steps.sum()
        loss = recon + kl  # the negative bound, logged as "loss" whatever the objective
        free = float(self.config["free_nats"])
        objective = recon + kl_steps.clamp(min=free).sum() if free > 0 else loss
        self.opt.zero_grad(set_to_none=True)
        objective.backward()
        clip = float(self.config["grad_clip"])
        if clip > 0:  # per tensor, as the authors' update does (not one global norm)
            for p in self.draw.parameters():
                if p.grad is not None:
                    torch.nn.utils.clip_grad_norm_([p], clip)
        self.opt.step()
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def generate(self, text, z: torch.Tensor | None = None) -> torch.Tensor:
        """sigmoid(c_T) mapped to [-1, 1], z from the learned prior (eps from torch's RNG unless given)."""
        from ganzoo.speed import unwrap

        text = text.to(self.device)
        n = len(text)
        eps = self.sample_z(n) if z is None else z.to(self.device)
        eps = eps.view(n, int(self.config["steps"]), int(self.config["z_dim"]))
        return unwrap(self.draw).sample(text.tokens, text.mask, eps.float()) * 2 - 1
