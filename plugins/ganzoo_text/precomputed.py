"""The embeddings a dataset ships (e.g. CUB's char-CNN-RNN vectors), used as they are."""

from __future__ import annotations

from typing import Sequence

import torch

from ganzoo.errors import UsageError
from ganzoo.text import TextEncoder


class PrecomputedEncoder(TextEncoder):
    """Returns ``split.precomputed_embeddings``; cannot embed new captions."""

    name = "precomputed"
    cacheable = False  # the dataset already stores them; copying them to the cache gains nothing

    def __init__(self, dim: int = 0):
        self.dim = int(dim)

    def encode(self, captions: Sequence[str]) -> torch.Tensor:
        raise UsageError("the precomputed text encoder only has the embeddings a dataset ships and cannot "
                         "embed new captions; train with --text-encoder minilm to sample from free text")

    def encode_split(self, split) -> torch.Tensor:
        emb = getattr(split, "precomputed_embeddings", None)
        if emb is None:
            dataset = getattr(split, "dataset_name", None) or "of this split"
            raise UsageError(f"dataset {dataset} ships no embeddings; use --text-encoder minilm")
        if emb.ndim != 2 or emb.shape[0] != len(split.captions):
            raise UsageError(f"dataset {getattr(split, 'dataset_name', '?')} ships embeddings of shape "
                             f"{tuple(emb.shape)}; expected one row per caption ({len(split.captions)})")
        self.dim = int(emb.shape[1])
        return emb.float()
