"""The KL term and the reference's loss weightings.

The adversarial terms are :class:`ganzoo.nn.AdversarialLoss`: BCE in its with-logits form,
softplus(-x) = BCE(sigmoid(x), 1) and softplus(x) = BCE(sigmoid(x), 0), which is the
reference's BCE on sigmoid outputs, numerically stabler, in float32 (autocast-safe).
"""

from __future__ import annotations

import torch

from ganzoo.nn import AdversarialLoss


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) as the reference: -0.5 * mean(1 + logvar - mu^2 - exp(logvar))."""
    mu, logvar = mu.float(), logvar.float()
    return -0.5 * torch.mean(1.0 + logvar - mu.pow(2) - logvar.exp())


def discriminator_loss(adv: AdversarialLoss, real: torch.Tensor, wrong: torch.Tensor, fake: torch.Tensor,
                       real_uncond: torch.Tensor | None = None,
                       fake_uncond: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The reference weighting. Conditional logits only (Stage-I): real + (fake + wrong) / 2.
    With unconditional logits (Stage-II): (real + real_u) / 2 + (fake + wrong + fake_u) / 3,
    reporting d_real and d_fake as the cond/uncond averages, as the reference does."""
    d_real, d_wrong, d_fake = adv.d_real(real), adv.d_fake(wrong), adv.d_fake(fake)
    if real_uncond is None:
        total = d_real + 0.5 * (d_fake + d_wrong)
    else:
        u_real, u_fake = adv.d_real(real_uncond), adv.d_fake(fake_uncond)
        total = (d_real + u_real) / 2 + (d_fake + d_wrong + u_fake) / 3
        d_real, d_fake = (d_real + u_real) / 2, (d_fake + u_fake) / 2
    return {"d_loss": total, "d_real": d_real, "d_wrong": d_wrong, "d_fake": d_fake}
