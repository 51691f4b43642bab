"""Collapse as a run status: samples that do not vary with z, or with the caption.

A collapsed generator (every sample one flat image, or one image whatever the caption)
can still score a finite FID, so a benchmark must say so instead of ranking it. The
check is model- and dataset-agnostic: it generates a grid of ``n_captions`` captions x
``n_z`` noise vectors and measures, in [-1, 1] pixel units,

- ``z_spread``: the pixel standard deviation over z for a fixed caption (mean over
  captions and pixels), and
- ``caption_spread``: the pixel standard deviation over captions for a fixed z.

A run whose spread is below ``tol`` (0.01, about 1.3 grey levels of 255) on either axis is
collapsed. ``z_spread`` ignores CA's eps, which is drawn afresh per row: a model that
ignores z but keeps CA's noise is judged on what it shows, its images.
"""

from __future__ import annotations

import torch

TOLERANCE = 0.01


@torch.no_grad()
def collapse_measures(model, table: torch.Tensor, seed: int = 0, captions: list[str] | None = None,
                      n_captions: int = 8, n_z: int = 8) -> dict[str, float]:
    """``z_spread`` and ``caption_spread`` of the model's final-stage images (see the module doc)."""
    from ganzoo.grid import generate_rows

    n_captions = min(n_captions, table.shape[0])
    step = max(table.shape[0] // n_captions, 1)
    ids = [i * step for i in range(n_captions)]
    chosen = None if captions is None else [captions[i] for i in ids]
    rows = generate_rows(model, table[ids], n_z, seed=seed, captions=chosen)
    images = torch.stack([stages[-1].float() for stages in rows])  # (captions, z, 3, S, S)
    return {"z_spread": images.std(dim=1).mean().item(), "caption_spread": images.std(dim=0).mean().item()}


def collapse_reason(measures: dict[str, float], tol: float = TOLERANCE) -> str | None:
    """A one-line reason when the measures say collapsed, else None."""
    parts = []
    if measures["z_spread"] < tol:
        parts.append(f"samples do not vary with z (pixel std over z {measures['z_spread']:.4f} < {tol})")
    if measures["caption_spread"] < tol:
        parts.append(f"samples do not vary with the caption (pixel std over captions "
                     f"{measures['caption_spread']:.4f} < {tol})")
    return "collapsed: " + "; ".join(parts) if parts else None


def detect_collapse(model, table: torch.Tensor, seed: int = 0, captions: list[str] | None = None) -> str | None:
    """The reason a trained model counts as collapsed, or None when its samples vary."""
    return collapse_reason(collapse_measures(model, table, seed, captions))
