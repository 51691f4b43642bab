"""What a model is conditioned on: one sentence vector per caption, or the caption's words too.

A model says which it reads with the class attribute ``GanzooModel.conditioning``:

* ``"sentence"`` (the default, and every model written before word-level conditioning):
  ``batch["text"]`` and the ``text`` argument of ``generate`` are a float tensor
  ``(B, text_dim)`` of caption embeddings, exactly as before.
* ``"words"``: they are a :class:`Conditioning`, which carries the same sentence vector
  (``.sentence``) and also the caption's words as ids over a vocabulary built from the
  training captions (``.tokens``, ``(B, L)`` long, 0 = padding), a mask of the real words
  (``.mask``, ``(B, L)`` bool) and the caption strings (``.captions``). The model gets
  the :class:`Vocabulary` as ``self.vocab`` before ``build()`` (``len(self.vocab)`` ids,
  including padding and unknown), so it can size its word embeddings.

Everything that conditions a model -- the training loop, ``ganzoo sample``, the bench
grid and every metric -- goes through :func:`condition`, so a word-level model sees the
same object everywhere. The run's vocabulary is saved as ``RUN/vocab.json``; words typed at
sampling time that were never in a training caption map to the unknown id.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from ganzoo.errors import GanzooError, UsageError

SENTENCE, WORDS = "sentence", "words"
LEVELS = (SENTENCE, WORDS)
VOCAB_FILE = "vocab.json"
PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
#: captions longer than this many words are cut (a sampling-time guard; shapes captions have < 20)
MAX_WORDS = 64
_WORD = re.compile(r"[a-z0-9]+")


def words_of(caption: str) -> list[str]:
    """Lower-cased alphanumeric words; punctuation and hyphens separate words ("top-left" -> top, left)."""
    return _WORD.findall(caption.lower())


class Vocabulary:
    """Word <-> id table built from training captions: id 0 is padding, id 1 unknown words,
    then the words by decreasing count (ties alphabetical), so it is a pure function of the captions."""

    def __init__(self, words: Sequence[str]):
        words = list(words)
        if words[:2] != [PAD, UNK]:
            raise GanzooError(f"a vocabulary starts with {PAD!r}, {UNK!r}; got {words[:2]}")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1) -> "Vocabulary":
        counts = Counter(w for c in captions for w in words_of(c))
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls([PAD, UNK] + kept)

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, captions: Sequence[str], max_words: int = MAX_WORDS) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (B, L) long, mask (B, L) bool), L the longest caption of the batch (in words).

        A caption without any word (punctuation only) gets one unknown word, so every row
        has at least one real position to attend to."""
        rows = [[self.index.get(w, UNK_ID) for w in words_of(c)][:max_words] or [UNK_ID] for c in captions]
        length = max((len(r) for r in rows), default=1)
        ids = torch.full((len(rows), length), PAD_ID, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        return ids, ids != PAD_ID

    def decode(self, ids: torch.Tensor) -> list[list[str]]:
        return [[self.words[i] for i in row.tolist() if i != PAD_ID] for row in ids]

    def to_json(self) -> dict:
        return {"words": self.words}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        return cls(data["words"])

    def save(self, path: str | Path) -> None:
        from ganzoo.checkpoint import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_json()))

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        try:
            return cls.from_json(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError) as exc:
            raise GanzooError(f"cannot read the vocabulary {path}: {exc}") from None


@dataclass
class Conditioning:
    """The conditioning of a batch of captions for a word-level model (see the module docstring)."""

    sentence: torch.Tensor              # (B, text_dim) caption embeddings, standardised like a sentence model's
    tokens: torch.Tensor                # (B, L) long word ids, PAD_ID after each caption's last word
    mask: torch.Tensor                  # (B, L) bool, True on real words
    captions: list[str]

    def __post_init__(self):
        b = self.sentence.shape[0]
        if self.tokens.shape != self.mask.shape or self.tokens.shape[0] != b or len(self.captions) != b:
            raise GanzooError(f"inconsistent conditioning: sentence {tuple(self.sentence.shape)}, tokens "
                              f"{tuple(self.tokens.shape)}, mask {tuple(self.mask.shape)}, {len(self.captions)} captions")

    def __len__(self) -> int:
        return int(self.sentence.shape[0])

    @property
    def shape(self) -> torch.Size:
        """The sentence vectors' shape, so ``text.shape[0]`` is the batch size for either kind."""
        return self.sentence.shape

    @property
    def device(self) -> torch.device:
        return self.sentence.device

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1)

    def to(self, device, non_blocking: bool = False) -> "Conditioning":
        return Conditioning(self.sentence.to(device, non_blocking=non_blocking),
                            self.tokens.to(device, non_blocking=non_blocking),
                            self.mask.to(device, non_blocking=non_blocking), list(self.captions))

    def __getitem__(self, idx) -> "Conditioning":
        """Rows ``idx`` (int, slice, list or index tensor); trailing padding columns are kept."""
        if isinstance(idx, int):
            idx = [idx]
        if isinstance(idx, slice):
            caps = self.captions[idx]
        else:
            idx = torch.as_tensor(idx, dtype=torch.long)
            caps = [self.captions[i] for i in idx.tolist()]
            idx = idx.to(self.sentence.device)
        return Conditioning(self.sentence[idx], self.tokens[idx], self.mask[idx], caps)

    def repeat_rows(self, n: int) -> "Conditioning":
        """Each row repeated ``n`` times in place (row 0 n times, then row 1 ...)."""
        idx = torch.arange(len(self)).repeat_interleave(n)
        return self[idx]

    @staticmethod
    def cat(parts: Sequence["Conditioning"]) -> "Conditioning":
        length = max(p.tokens.shape[1] for p in parts)

        def pad(t, value):
            return torch.nn.functional.pad(t, (0, length - t.shape[1]), value=value)

        return Conditioning(torch.cat([p.sentence for p in parts]), torch.cat([pad(p.tokens, PAD_ID) for p in parts]),
                            torch.cat([pad(p.mask, False) for p in parts]), [c for p in parts for c in p.captions])


def level_of(model: Any) -> str:
    """``"sentence"`` or ``"words"`` for a model instance or class (objects without the attribute: sentence)."""
    level = getattr(model, "conditioning", SENTENCE)
    if level not in LEVELS:
        raise GanzooError(f"model {type(model).__name__}: conditioning must be one of {LEVELS}, got {level!r}")
    return level


def wants_words(model: Any) -> bool:
    return level_of(model) == WORDS


def condition(model: Any, sentence: torch.Tensor, captions: Sequence[str] | None = None):
    """What ``model`` is conditioned on for these captions: ``sentence`` itself for a
    sentence-level model, a :class:`Conditioning` on ``sentence``'s device for a word-level one."""
    if not wants_words(model):
        return sentence
    if captions is None:
        raise GanzooError(f"model {type(model).__name__} reads the captions' words; pass the captions too")
    captions = list(captions)
    if len(captions) != sentence.shape[0]:
        raise GanzooError(f"{len(captions)} captions for {sentence.shape[0]} sentence vectors")
    vocab = getattr(model, "vocab", None)
    if vocab is None:
        raise GanzooError(f"model {type(model).__name__} reads words but has no vocabulary")
    tokens, mask = vocab.encode(captions)
    return Conditioning(sentence, tokens.to(sentence.device), mask.to(sentence.device), captions)


def model_kwargs(model_cls: Any, vocab: Vocabulary | None) -> dict:
    """Extra constructor arguments: the vocabulary, for word-level models only (sentence-level
    models, including third-party ones with their own ``__init__``, are built exactly as before)."""
    if not wants_words(model_cls):
        return {}
    if vocab is None:
        raise UsageError(f"model {getattr(model_cls, '__name__', model_cls)} reads words and needs a vocabulary")
    return {"vocab": vocab}


def run_vocabulary(run_dir: str | Path, model_cls: Any) -> Vocabulary | None:
    """The vocabulary saved with a run (None for sentence-level models)."""
    if not wants_words(model_cls):
        return None
    path = Path(run_dir) / VOCAB_FILE
    if not path.exists():
        raise GanzooError(f"{run_dir} lacks {VOCAB_FILE}; the run did not finish its set-up")
    return Vocabulary.load(path)
