"""The dataset contract: captioned image splits, and the batch plumbing the harness uses.

A dataset plugin returns a :class:`CaptionedDataset`; each split is a
:class:`CaptionedSplit` holding a caption table (``captions``), which captions belong to
which image (``caption_ids``, shape N x K), optional per-image attributes for evaluation,
and a way to load images at any size. Batches are drawn by :class:`EpochBatchSampler`
so that the order, the caption chosen per image and the augmentation seed are all a
pure function of (seed, epoch, step): resuming or sharding across ranks reproduces them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch

from ganzoo.errors import UnknownNameError


class CaptionedSplit(torch.utils.data.Dataset):
    """One split of a captioned image dataset.

    Subclasses set ``captions`` (list of str), ``caption_ids`` (LongTensor N x K, indices
    into ``captions``), optionally ``attributes`` ({name: LongTensor N}) with
    ``attribute_values`` ({name: list of value names}), and ``precomputed_embeddings``
    (Tensor len(captions) x D, for datasets that ship embeddings); and implement
    :meth:`load_images`.
    """

    name: str = "train"
    captions: list[str]
    caption_ids: torch.Tensor
    attributes: dict[str, torch.Tensor] | None = None
    attribute_values: dict[str, list[str]] | None = None
    precomputed_embeddings: torch.Tensor | None = None
    dataset_name: str | None = None  # set by CaptionedDataset.split()

    def __len__(self) -> int:
        return int(self.caption_ids.shape[0])

    def load_images(self, indices: Sequence[int], image_size: int, train: bool,
                    seed: int = 0) -> torch.Tensor:
        """Float images (B, 3, S, S) in [-1, 1]; ``train`` enables augmentation seeded by ``seed``."""
        raise NotImplementedError

    def text_for_batch(self, embeddings: torch.Tensor, indices, slots, seed: int = 0) -> torch.Tensor:
        """The text condition of a batch: by default the embedding of each image's chosen caption.

        A dataset may override this (e.g. StackGAN's mean of 4 random captions per image).
        """
        idx = torch.as_tensor(indices, dtype=torch.long)
        return embeddings[self.caption_ids[idx, torch.as_tensor(slots, dtype=torch.long)]]

    def fingerprint(self) -> str:
        """A short hash that changes whenever the split's content changes (cache keys)."""
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(str(len(self)).encode())
        h.update("\n".join(self.captions).encode())
        h.update(self.caption_ids.numpy().tobytes())
        return h.hexdigest()[:16]


class CaptionedDataset:
    """A named collection of splits (at least ``train`` and ``test``)."""

    name: str = "dataset"
    native_size: int = 64  # the resolution images are stored or rendered at natively
    default_text_encoder: str | None = None  # None: run_defaults.toml's text_encoder; e.g. a dataset that
    # ships caption embeddings names the encoder that reads them

    def __init__(self, splits: dict[str, CaptionedSplit]):
        self.splits = splits

    def split(self, name: str) -> CaptionedSplit:
        if name not in self.splits:
            raise UnknownNameError(f"split of dataset {self.name}", name, self.splits)
        split = self.splits[name]
        split.dataset_name = self.name  # lets messages about a split name its dataset
        return split


@dataclass(frozen=True)
class BatchPlan:
    """What one batch holds: image indices, which of each image's captions, augmentation seed."""

    indices: tuple[int, ...]
    caption_slots: tuple[int, ...]
    aug_seed: int
    epoch: int
    step_in_epoch: int


@dataclass
class EpochBatchSampler:
    """Deterministic batches: epoch e uses permutation seed (seed, e); rank r takes every world-th batch.

    ``start_epoch``/``start_step`` let a resumed run skip exactly what was already consumed.
    """

    n: int
    batch_size: int
    captions_per_image: int
    seed: int
    rank: int = 0
    world_size: int = 1
    drop_last: bool = True
    start_epoch: int = 0
    start_step: int = 0
    max_epochs: int | None = None
    _epoch: int = field(default=0, init=False)

    def batches_per_epoch(self) -> int:
        full = self.n // (self.batch_size * self.world_size)
        return max(full, 1) if not self.drop_last else full

    def plan_epoch(self, epoch: int) -> list[BatchPlan]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.n, generator=g)
        slots = torch.randint(0, self.captions_per_image, (self.n,), generator=g)
        aug = torch.randint(0, 2**31 - 1, (self.n // self.batch_size + 1,), generator=g)
        plans = []
        per_rank = self.batches_per_epoch()
        for step in range(per_rank):
            b = step * self.world_size + self.rank
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            idx = perm[sl]
            if len(idx) == 0:
                break
            plans.append(BatchPlan(tuple(idx.tolist()), tuple(slots[sl].tolist()), int(aug[b]), epoch, step))
        return plans

    def __iter__(self) -> Iterator[BatchPlan]:
        epoch, step = self.start_epoch, self.start_step
        while self.max_epochs is None or epoch < self.max_epochs:
            plans = self.plan_epoch(epoch)
            if not plans:
                raise ValueError(f"dataset of {self.n} images is smaller than one batch of {self.batch_size}")
            yield from plans[step:]
            epoch, step = epoch + 1, 0


class TrainView(torch.utils.data.Dataset):
    """Turns a :class:`BatchPlan` into a batch dict: images, text embeddings, caption ids.

    With a ``vocab`` (word-level models), ``text`` is a :class:`ganzoo.conditioning.Conditioning`
    of the chosen captions: the same sentence vectors plus their words."""

    def __init__(self, split: CaptionedSplit, embeddings: torch.Tensor, image_size: int, train: bool = True,
                 vocab=None):
        self.split, self.embeddings, self.image_size, self.train = split, embeddings, image_size, train
        self.vocab = vocab

    def __len__(self) -> int:
        return len(self.split)

    def __getitems__(self, plan: BatchPlan) -> dict:
        idx = torch.tensor(plan.indices, dtype=torch.long)
        slots = torch.tensor(plan.caption_slots, dtype=torch.long)
        cap = self.split.caption_ids[idx, slots]
        text = self.split.text_for_batch(self.embeddings, idx, slots, plan.aug_seed)
        if self.vocab is not None:
            from ganzoo.conditioning import Conditioning

            captions = [self.split.captions[c] for c in cap.tolist()]
            tokens, mask = self.vocab.encode(captions)
            text = Conditioning(text, tokens, mask, captions)
        return {
            "images": self.split.load_images(plan.indices, self.image_size, self.train, plan.aug_seed),
            "text": text,
            "caption_ids": cap,
            "indices": idx,
            "epoch": plan.epoch,
            "step_in_epoch": plan.step_in_epoch,
        }

    def __getitem__(self, i):  # pragma: no cover - batches always come through __getitems__
        raise TypeError("TrainView is read in batches through EpochBatchSampler")


def identity_collate(batch):
    return batch
