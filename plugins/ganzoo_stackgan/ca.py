"""Conditioning Augmentation: text embedding -> (c, mu, logvar)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: the activation applied to the whole fc output before it is split into mu and logvar
CA_ACTIVATIONS = ("relu", "leaky", "none")


class CondAugment(nn.Module):
    """Linear(text_dim -> 2*c_dim, bias) + activation; first half mu, second half logvar.

    ``activation``: ``relu`` as the PyTorch reference (so mu >= 0 and logvar >= 0, i.e.
    sigma >= 1: at least a unit of noise, and a unit whose pre-activation turns negative
    for every caption is dead for good), ``leaky`` (LeakyReLU 0.2) as the TF reference,
    ``none`` (the plain VAE parameterisation: mu and logvar free). ``sample=True`` (CA):
    c = mu + eps * exp(logvar / 2), eps ~ N(0, I) drawn from torch's global RNG (at test
    time too, as the reference does). ``sample=False`` (the no-CA ablation): c = mu,
    deterministic; logvar is returned as ``None`` and no KL applies.
    """

    def __init__(self, text_dim: int, c_dim: int, sample: bool = True, activation: str = "relu"):
        super().__init__()
        if activation not in CA_ACTIVATIONS:
            raise ValueError(f"CA activation must be one of {CA_ACTIVATIONS}, got {activation!r}")
        self.c_dim, self.sample, self.activation = c_dim, sample, activation
        self.fc = nn.Linear(text_dim, 2 * c_dim, bias=True)

    def forward(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        h = self.fc(text)
        if self.activation == "relu":
            h = F.relu(h)
        elif self.activation == "leaky":
            h = F.leaky_relu(h, 0.2)
        mu = h[:, : self.c_dim]
        if not self.sample:
            return mu, mu, None
        logvar = h[:, self.c_dim:]
        eps = torch.randn_like(mu)
        return mu + eps * torch.exp(0.5 * logvar), mu, logvar

    @torch.no_grad()
    def init_logvar(self, value: float) -> None:
        """Set the bias of the logvar half of the fc to ``value`` (call after the weight init).

        The reference initialises it to 0, so sigma starts near 1 while mu starts small (fc
        weights N(0, 0.02)): the condition begins with far more noise than signal, and Adam,
        being scale-free, moves the bias at about the learning rate per step whatever the KL
        weight, so the signal-to-noise ratio rises only slowly. A negative value starts CA
        with less noise; the KL term still pulls sigma towards 1.
        """
        self.fc.bias[self.c_dim:].fill_(value)
