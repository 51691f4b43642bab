"""ganzoo-mini, second model: ``mini-words``, the smallest complete *word-level* model plugin.

A word-level model sets ``conditioning = "words"``. It then receives, in ``train_step``
(``batch["text"]``) and in ``generate`` (``text``), a ``ganzoo.conditioning.Conditioning``:

* ``text.tokens``   (B, L) word ids over the run's vocabulary (0 = padding),
* ``text.mask``     (B, L) True on real words,
* ``text.sentence`` (B, text_dim) the sentence vector a sentence-level model would get,
* ``text.captions`` the caption strings,

and ``self.vocab`` (a ``ganzoo.conditioning.Vocabulary`` built from the training captions)
is set before ``build()``, so ``len(self.vocab)`` sizes the word embedding.

``mini-words`` reads the words with a learned soft attention (a query vector scores every
real word; padding is masked out), and is otherwise the ``mini-gan`` MLP GAN.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ganzoo import hookimpl
from ganzoo.errors import UsageError
from ganzoo.model import GanzooModel

DEFAULTS: dict[str, Any] = {"image_size": 16, "z_dim": 16, "word_dim": 32, "hidden": 128, "batch_size": 32,
                            "lr": 2e-4, "beta1": 0.5}
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {"hidden": 64, "batch_size": 16},
    "tiny": {"extends": "cpu", "image_size": 8, "hidden": 16, "word_dim": 8, "batch_size": 4},
}


class WordReader(nn.Module):
    """Word embeddings pooled by soft attention over the caption's real words."""

    def __init__(self, vocab_size: int, word_dim: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        self.query = nn.Linear(word_dim, 1)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        words = self.embed(tokens)                                      # (B, L, word_dim)
        scores = self.query(words).squeeze(2).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, 1)                              # 0 on padding, sums to 1
        return (weights.unsqueeze(2) * words).sum(1)


class Generator(nn.Module):
    def __init__(self, vocab_size: int, z_dim: int, word_dim: int, hidden: int, image_size: int):
        super().__init__()
        self.image_size = image_size
        self.reader = WordReader(vocab_size, word_dim)
        self.net = nn.Sequential(nn.Linear(z_dim + word_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 3 * image_size * image_size), nn.Tanh())

    def forward(self, z: torch.Tensor, text) -> torch.Tensor:
        cond = self.reader(text.tokens, text.mask)
        return self.net(torch.cat([z, cond], 1)).view(-1, 3, self.image_size, self.image_size)


class Discriminator(nn.Module):
    def __init__(self, vocab_size: int, word_dim: int, hidden: int, image_size: int):
        super().__init__()
        self.reader = WordReader(vocab_size, word_dim)
        self.net = nn.Sequential(nn.Linear(3 * image_size * image_size + word_dim, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 1))

    def forward(self, images: torch.Tensor, text) -> torch.Tensor:
        return self.net(torch.cat([images.flatten(1), self.reader(text.tokens, text.mask)], 1)).squeeze(1)


class MiniWords(GanzooModel):
    description = "a tiny MLP GAN that reads the caption's words (example word-level plugin)"
    conditioning = "words"  # batch["text"] and generate()'s text are Conditioning objects

    @classmethod
    def defaults_and_presets(cls):
        return dict(DEFAULTS), {name: dict(table) for name, table in PRESETS.items()}

    def validate(self, config: dict[str, Any]) -> None:
        if config["image_size"] < 4:
            raise UsageError(f"mini-words needs image_size >= 4, got {config['image_size']}")

    def build(self) -> None:
        c, n_words = self.config, len(self.vocab)
        self.G = Generator(n_words, self.z_dim, c["word_dim"], c["hidden"], self.image_size).to(self.device)
        self.D = Discriminator(n_words, c["word_dim"], c["hidden"], self.image_size).to(self.device)
        betas = (c["beta1"], 0.999)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=c["lr"], betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=c["lr"], betas=betas)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "D": self.opt_D}

    def train_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        real = batch["images"].to(self.device)
        text = batch["text"].to(self.device)       # a Conditioning: .tokens, .mask, .sentence, .captions
        fake = self.G(self.sample_z(len(real)), text)
        real_logit, fake_logit = self.D(real, text), self.D(fake.detach(), text)
        loss_d = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                  + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_D.step()
        gen_logit = self.D(fake, text)
        loss_g = F.binary_cross_entropy_with_logits(gen_logit, torch.ones_like(gen_logit))
        self.opt_G.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_G.step()
        return {"loss_D": loss_d.detach(), "loss_G": loss_g.detach()}

    @torch.no_grad()
    def generate(self, text, z: torch.Tensor | None = None) -> torch.Tensor:
        text = text.to(self.device)
        z = self.sample_z(len(text)) if z is None else z.to(self.device)
        return self.G(z, text)


@hookimpl
def register_models(register):
    register("mini-words", MiniWords, MiniWords.description)
