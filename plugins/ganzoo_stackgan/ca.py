"""Conditioning Augmentation: text embedding -> (c, mu, logvar)."""

from __future__ import annotations

import torch
from torch import nn


class CondAugment(nn.Module):
    """Linear(text_dim -> 2*c_dim, bias) + ReLU; first half mu, second half logvar.

    ``sample=True`` (CA): c = mu + eps * exp(logvar / 2), eps ~ N(0, I) drawn from torch's
    global RNG (at test time too, as the reference does). ``sample=False`` (the no-CA
    ablation): c = mu, deterministic; logvar is returned as ``None`` and no KL applies.
    """

    def __init__(self, text_dim: int, c_dim: int, sample: bool = True):
        super().__init__()
        self.c_dim, self.sample = c_dim, sample
        self.fc = nn.Linear(text_dim, 2 * c_dim, bias=True)
        self.relu = nn.ReLU()

    def forward(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        h = self.relu(self.fc(text))
        mu = h[:, : self.c_dim]
        if not self.sample:
            return mu, mu, None
        logvar = h[:, self.c_dim:]
        eps = torch.randn_like(mu)
        return mu + eps * torch.exp(0.5 * logvar), mu, logvar
