"""Which captions GAN-INT-CLS pairs with each image: the mean of several, and the wrong one."""

from __future__ import annotations

import torch


def mean_of_captions(text: torch.Tensor, n: int) -> torch.Tensor:
    """The condition of each image from its caption embeddings.

    ``text`` (B, D): one embedding per image, returned as it is. ``text`` (B, K, D): K caption
    embeddings per image; the mean of ``n`` of them drawn uniformly with replacement (torch's
    RNG), as the authors' loader draws a random caption ``n`` times per image (4 on CUB).
    """
    if text.dim() != 3:
        return text
    picks = torch.randint(0, text.shape[1], (text.shape[0], n), device=text.device)
    return torch.gather(text, 1, picks[:, :, None].expand(-1, -1, text.shape[2])).mean(1)


def wrong_partners(text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(partner, valid): for each sample i, the index of another sample of the batch whose
    caption differs from i's (any coordinate of the embedding), drawn uniformly among those
    (torch's RNG), and whether one exists. A sample whose caption every other sample shares has
    ``valid`` False (its partner is arbitrary and must not count as a wrong pair). No host sync."""
    flat = text.flatten(1)
    differs = (flat[:, None, :] != flat[None, :, :]).any(dim=2)  # (B, B), False on the diagonal
    valid = differs.any(dim=1)
    weights = differs.float() + (~valid).float()[:, None]  # a row without candidates draws from all
    return torch.multinomial(weights, 1).squeeze(1), valid
