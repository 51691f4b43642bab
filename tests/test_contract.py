"""The contract kit (ganzoo.testing): every registered model passes it, and it catches what it
claims to catch.

The first test is parametrized over every model the registry knows, so a new model plugin gets
these checks by being registered (from its ``tiny`` preset; see ``ganzoo.testing``). The others
break a toy model in one way each and expect exactly the matching check to fail.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from ganzoo.model import GanzooModel
from ganzoo.nn import AdversarialLoss
from ganzoo.registry import get_registry
from ganzoo.testing import CHECKS, Subject, check_model, contract_tests

MODELS = get_registry().names("model")


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", MODELS)
def test_registered_model_meets_the_contract(name, check):
    check_model(name, checks=(check,))


def test_every_built_in_model_is_checked_from_a_tiny_preset():
    for name in ("stackgan", "gan-int-cls", "ebgan", "vae", "draw"):
        assert name in MODELS
        assert Subject.of(name).preset == "tiny"


# ---- the kit catches broken models ------------------------------------------------------------

class ToyGan(GanzooModel):
    """A correct minimal model: linear G and D on 4x4 images."""

    @classmethod
    def defaults_and_presets(cls):
        return {"image_size": 4, "batch_size": 4, "z_dim": 3, "lr": 0.01}, {"tiny": {}}

    def build(self) -> None:
        pixels = 3 * self.image_size ** 2
        self.G = nn.Linear(self.z_dim + self.text_dim, pixels)
        self.D = nn.Linear(pixels + self.text_dim, 1)
        self.opt = torch.optim.Adam(list(self.G.parameters()) + list(self.D.parameters()), lr=self.config["lr"])
        self.adv = AdversarialLoss("bce")

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.opt}

    def lr_groups(self):
        return [(self.opt, "lr")]

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        text = batch["text"]
        fake = self.generate_grad(text, self.sample_z(len(text)))
        logits = self.D(torch.cat([fake.flatten(1), text], 1))
        loss = self.adv.d_fake(logits) + self.adv.d_real(self.D(torch.cat([batch["images"].flatten(1), text], 1)))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach()}

    def generate_grad(self, text, z):
        s = self.image_size
        return torch.tanh(self.G(torch.cat([z, text], 1))).view(-1, 3, s, s)

    @torch.no_grad()
    def generate(self, text, z=None):
        return self.generate_grad(text, self.sample_z(len(text)) if z is None else z)


class LossWithGrad(ToyGan):
    def train_step(self, batch):
        losses = super().train_step(batch)
        return {"loss": losses["loss"] + 0.0 * self.G.weight.sum()}


class OutOfRange(ToyGan):
    @torch.no_grad()
    def generate(self, text, z=None):
        return 3 * super().generate(text, z)


class ForgetsItsStep(ToyGan):
    """Trains differently after its first step, but does not save that it took one."""

    steps = 0

    def train_step(self, batch):
        self.steps += 1
        if self.steps > 1:
            batch = dict(batch, images=-batch["images"])
        return super().train_step(batch)


class UnseededInit(ToyGan):
    def build(self):
        super().build()
        with torch.no_grad():
            self.G.weight.add_(torch.randn(self.G.weight.shape, generator=torch.Generator().manual_seed(id(self))))


class EditsItsConfig(ToyGan):
    def build(self):
        super().build()
        self.config["lr"] = 2 * self.config["lr"]


@pytest.mark.parametrize("broken, failing", [
    (LossWithGrad, "train_step"), (OutOfRange, "generate"), (ForgetsItsStep, "save_load"),
    (UnseededInit, "determinism"), (EditsItsConfig, "config")])
def test_the_kit_catches_a_broken_model(broken, failing):
    check_model(ToyGan)  # the correct toy passes every check
    with pytest.raises(AssertionError):
        check_model(broken, checks=(failing,))


test_toy_contract = contract_tests(ToyGan)  # the one line a plugin's own tests need
