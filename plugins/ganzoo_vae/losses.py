"""The conditional VAE's negative ELBO terms, per image and averaged over the batch (float32)."""

from __future__ import annotations

import torch

#: recon key -> per-image negative log-likelihood up to a constant, summed over pixels
RECONSTRUCTIONS = {
    # Gaussian, fixed variance 1/2: -log p = sum (x - mean)^2 + const
    "mse": lambda mean, x: (mean - x).pow(2).flatten(1).sum(1),
    # Laplace, fixed scale 1: -log p = sum |x - mean| + const
    "l1": lambda mean, x: (mean - x).abs().flatten(1).sum(1),
}


def reconstruction(kind: str, mean: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    return RECONSTRUCTIONS[kind](mean.float(), images.float()).mean()


def kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over z and averaged over the batch."""
    mu, logvar = mu.float(), logvar.float()
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
