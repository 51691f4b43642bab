"""Text encoders' contract, the on-disk embedding cache, and the standardiser.

Caption embeddings are computed once per (encoder, caption list) and cached as
safetensors under ``cache_dir`` keyed by a hash of both, so a second run does not
re-encode. Generic sentence embeddings of templated captions sit close together, so a
:class:`Standardiser` fitted on the training captions (per-dimension z-score, or PCA
whitening to ``k`` components) can be applied; it is saved with each run so new captions
typed at sampling time get the same transform.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import torch
from safetensors.torch import load_file, save_file

from ganzoo.errors import UsageError

MAX_CAPTION_CHARS = 1000


def default_cache_dir() -> Path:
    return Path(os.environ.get("GANZOO_CACHE", Path.home() / ".cache" / "ganzoo"))


class TextEncoder:
    """Maps captions to fixed-width float vectors."""

    name: str = "encoder"
    dim: int = 0
    cacheable: bool = True  # False for encoders that only return data the dataset already stores

    def fingerprint(self) -> str:
        """Identifies the encoder's weights/version; part of every cache key."""
        return self.name

    def encode(self, captions: Sequence[str]) -> torch.Tensor:
        raise NotImplementedError

    def encode_split(self, split) -> torch.Tensor:
        """Embeddings for ``split.captions`` (datasets that ship embeddings override via the encoder)."""
        return self.encode(split.captions)


def check_captions(captions: Sequence[str]) -> None:
    for c in captions:
        if not c or not c.strip():
            raise UsageError("empty caption: give a non-empty description, e.g. \"a small red circle\"")
        if len(c) > MAX_CAPTION_CHARS:
            raise UsageError(f"caption of {len(c)} characters is too long (limit {MAX_CAPTION_CHARS}); shorten it")


def _key(encoder: TextEncoder, captions: Sequence[str]) -> str:
    h = hashlib.sha256(encoder.fingerprint().encode())
    for c in captions:
        h.update(b"\x00" + c.encode())
    return h.hexdigest()[:24]


def cached_embeddings(encoder: TextEncoder, split, cache_dir: Path | None = None) -> torch.Tensor:
    """Embeddings of every caption of ``split``, from the cache when present."""
    if not encoder.cacheable:
        return encoder.encode_split(split).float()
    cache_dir = Path(cache_dir or default_cache_dir()) / "embeddings"
    path = cache_dir / f"{encoder.name}-{_key(encoder, split.captions)}.safetensors"
    if path.exists():
        try:
            emb = load_file(str(path))["embeddings"]
            if emb.ndim == 2 and emb.shape[0] == len(split.captions) and torch.isfinite(emb).all():
                return emb
        except Exception:
            pass
        path.unlink(missing_ok=True)  # a damaged cache entry is recomputed, never trusted
    emb = encoder.encode_split(split).float().contiguous()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    save_file({"embeddings": emb}, str(tmp))
    os.replace(tmp, path)
    return emb


class Standardiser:
    """y = (x - mean) @ W: identity (``none``), per-dim z-score, or PCA whitening to k dims."""

    def __init__(self, mean: torch.Tensor, weight: torch.Tensor, kind: str):
        self.mean, self.weight, self.kind = mean, weight, kind

    @property
    def out_dim(self) -> int:
        return int(self.weight.shape[1])

    @classmethod
    def fit(cls, x: torch.Tensor, kind: str = "zscore", k: int = 64) -> "Standardiser":
        """Fit on training embeddings ``x`` (n x d).

        Dimensions (z-score) or components (whitening) with almost no variance are not
        blown up: a z-score divides by at least 1e-3 of the mean spread, and whitening
        keeps at most ``k`` components with variance above 1e-6 of the largest, so
        ``out_dim`` can be below ``k`` when the captions span fewer directions.
        """
        if kind not in ("none", "zscore", "whiten"):
            raise UsageError(f"unknown standardisation {kind!r}; valid: none, zscore, whiten")
        x = x.double()
        d = x.shape[1]
        if kind == "none":
            return cls(torch.zeros(d), torch.eye(d), kind)
        if len(x) < 2:
            raise UsageError(f"{kind} standardisation needs at least 2 training captions, got {len(x)}")
        mean = x.mean(0)
        if kind == "zscore":
            std = x.std(0)
            std = std.clamp_min(max(1e-3 * float(std.mean()), 1e-12))
            return cls(mean.float(), torch.diag(1.0 / std).float(), kind)
        if k < 1:
            raise UsageError(f"whitening needs k >= 1 components, got {k}")
        xc = x - mean
        cov = xc.T @ xc / (len(x) - 1)
        evals, evecs = torch.linalg.eigh(cov)
        order = torch.argsort(evals, descending=True)[: min(k, d)]
        top = evals[order]
        keep = top > 1e-6 * top[0]
        keep[0] = True
        order, top = order[keep], top[keep]
        w = evecs[:, order] / top.clamp_min(1e-12).sqrt()
        return cls(mean.float(), w.float(), kind)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean.to(x.device)) @ self.weight.to(x.device)

    def state(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean, "weight": self.weight}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], kind: str) -> "Standardiser":
        return cls(state["mean"], state["weight"], kind)
