"""The real StackGAN datasets (CUB birds, Oxford-102 flowers, MS-COCO) as ganzoo splits.

Reads a StackGAN data folder exactly as the original release lays it out (see
:mod:`ganzoo_realdata.layout`). Each split exposes:

* ``captions``: the raw caption table, K per image, read from the caption text files
  (K = 10 for birds/flowers, 5 for COCO, or what the embedding file says), row-major:
  caption ``i * K + j`` is caption ``j`` of image ``i``; ``caption_ids`` is (N, K).
  When a caption file is missing (or short) but the char-CNN-RNN embeddings exist, the
  slot gets the placeholder ``"<key> caption j"`` and the key is listed in
  ``placeholder_captions``; without embeddings that is an error.
* ``precomputed_embeddings``: the shipped char-CNN-RNN embeddings, (N*K, 1024) float,
  aligned with ``captions`` (what the ``precomputed`` text encoder returns). Any other
  encoder can re-encode ``captions`` instead.
* ``embedding_mode``: ``"random"`` (one random caption per image per batch, the
  harness default) or ``"mean4"`` (the TF reference: the mean of 4 distinct random
  captions' embeddings of the image). :meth:`StackGANSplit.text_for_batch` implements
  both; the harness's ``TrainView`` calls it for every batch.
* ``load_images``: the reference preprocessing (:mod:`ganzoo_realdata.images`),
  optionally from the decoded-image cache (:mod:`ganzoo_realdata.cache`).

Paper evaluation protocol (StackGAN, Zhang et al. 2017): the Inception Score is
computed on 30,000 images generated from the *test* split's captions (a random test
caption embedding and a fresh noise vector per image) and reported as the mean and
standard deviation over 10 splits of those 30,000 images (StackGAN++ reports FID on
the same kind of sample set). For birds and flowers the paper's Inception model was
fine-tuned on that dataset; COCO used the ImageNet one, so ImageNet-Inception scores on
birds/flowers are not comparable with the published ones.
Train and test classes are disjoint (birds 150/50, flowers 82/20).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ganzoo.data import CaptionedDataset, CaptionedSplit
from ganzoo.errors import UsageError
from ganzoo_realdata import cache as image_cache
from ganzoo_realdata.images import augment, decode, load_size
from ganzoo_realdata.layout import (CLASS_INFO, EMBEDDINGS, FILENAMES, LAYOUTS, SPLITS, Layout,
                                    as_embedding_array, read_cub_boxes)
from ganzoo_realdata.safe_pickle import load_pickle

EMBEDDING_MODES = ("random", "mean4")
MEAN_OF = 4  # captions averaged per image in "mean4" mode (TF reference)


class StackGANSplit(CaptionedSplit):
    """One split of a StackGAN data folder; cheap to pickle into DataLoader workers."""

    def __init__(self, *, name: str, dataset: str, root: Path, keys: list[str], class_ids: list[int] | None,
                 image_paths: list[str], boxes: list | None, captions: list[str], captions_per_image: int,
                 placeholder_captions: list[str], embeddings: torch.Tensor | None, embeddings_file: Path | None,
                 embedding_mode: str = "random", use_cache: bool = False):
        self.name, self.dataset = name, dataset
        self.root, self.keys, self.class_ids = Path(root), keys, class_ids
        self.image_paths, self.boxes = image_paths, boxes
        self.captions = captions
        self.caption_ids = torch.arange(len(keys) * captions_per_image).view(len(keys), captions_per_image)
        self.placeholder_captions = placeholder_captions
        self.embeddings_file = embeddings_file
        self._embeddings = embeddings
        self.embedding_mode = embedding_mode
        self.use_cache = use_cache
        self._arrays: dict[int, np.ndarray] = {}

    # ---- text ---------------------------------------------------------------------
    @property
    def precomputed_embeddings(self) -> torch.Tensor | None:
        """The shipped char-CNN-RNN embeddings (N*K, 1024), or None when the folder has none."""
        if self._embeddings is None and self.embeddings_file is not None:
            self._embeddings = read_embeddings(self.embeddings_file, len(self.keys))[0]
        return self._embeddings

    def text_for_batch(self, embeddings: torch.Tensor, indices, slots, seed: int = 0) -> torch.Tensor:
        """The text condition of a batch: the chosen caption's row, or the mean of 4 random ones."""
        if self.embedding_mode != "mean4":
            return super().text_for_batch(embeddings, indices, slots, seed)
        idx = torch.as_tensor(indices, dtype=torch.long)
        k = self.caption_ids.shape[1]
        g = torch.Generator().manual_seed(int(seed) ^ 0x5EED)
        picks = torch.rand(len(idx), k, generator=g).argsort(dim=1)[:, :min(MEAN_OF, k)]
        return embeddings[self.caption_ids[idx[:, None], picks]].mean(dim=1)

    # ---- images -------------------------------------------------------------------
    def _decode(self, i: int, size: int) -> np.ndarray:
        return decode(self.image_paths[i], self.boxes[i] if self.boxes is not None else None, size)

    def cached_images(self, image_size: int) -> np.ndarray:
        """The (N, L, L, 3) uint8 cache for ``image_size`` (built on first use); a read-only memory map."""
        size = load_size(image_size)
        if size not in self._arrays:
            key = image_cache.cache_key(f"{self.dataset}/{self.name}", self.image_paths, self.boxes, size)
            self._arrays[size] = image_cache.open_or_build(
                image_cache.cache_root(self.root), f"{self.dataset}-{self.name}-{size}-{key}",
                len(self.keys), size, lambda i: self._decode(i, size))
        return self._arrays[size]

    def load_images(self, indices: Sequence[int], image_size: int, train: bool, seed: int = 0) -> torch.Tensor:
        indices = [int(i) for i in indices]
        if self.use_cache:
            arr = self.cached_images(image_size)
            batch = np.stack([arr[i] for i in indices])
        else:
            size = load_size(image_size)
            batch = np.stack([self._decode(i, size) for i in indices])
        return augment(batch, image_size, train, seed)

    def __getstate__(self):
        # Workers re-open the memory map and need not carry the (large) embedding table.
        state = dict(self.__dict__)
        state["_arrays"] = {}
        if self.embeddings_file is not None:
            state["_embeddings"] = None
        return state


class StackGANDataset(CaptionedDataset):
    native_size = 256  # StackGAN Stage-II resolution
    default_text_encoder = "precomputed"  # the shipped char-CNN-RNN embeddings, as in the paper

    def __init__(self, layout: Layout, root: Path, splits: dict[str, StackGANSplit], embedding_mode: str):
        super().__init__(splits)
        self.name, self.layout, self.root, self.embedding_mode = layout.name, layout, Path(root), embedding_mode


# ---- reading -------------------------------------------------------------------------
def read_embeddings(path: Path, n: int) -> tuple[torch.Tensor, int]:
    """The (n, K, D) embedding pickle as a (n*K, D) float tensor, and K."""
    arr = as_embedding_array(load_pickle(path))
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu" or arr.ndim != 3 or arr.shape[0] != n:
        shape = getattr(arr, "shape", type(arr).__name__)
        raise UsageError(f"{path}: expected an array of shape ({n}, K, D), found {shape}; "
                         f"run `ganzoo data check` on the folder")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    return torch.from_numpy(arr.reshape(n * arr.shape[1], arr.shape[2])), int(arr.shape[1])


def read_caption_file(path: Path) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return [line.strip() for line in fh if line.strip()]


def _string_list(obj, path: Path) -> list[str]:
    if not isinstance(obj, (list, tuple)) or not all(isinstance(k, str) for k in obj):
        raise UsageError(f"{path}: expected a list of image keys (strings)")
    return list(obj)


def load_split(layout: Layout, root: Path, split: str, embedding_mode: str, use_cache: bool,
               boxes_by_key: dict | None) -> StackGANSplit:
    names_file = layout.split_file(root, split, FILENAMES)
    if not names_file.is_file():
        raise UsageError(f"{names_file} is missing: {root} does not look like the StackGAN "
                         f"'{layout.folder}' folder; run `ganzoo data check {root} --dataset {layout.name}`")
    keys = _string_list(load_pickle(names_file), names_file)
    n = len(keys)

    class_ids = None
    class_file = layout.split_file(root, split, CLASS_INFO)
    if class_file.is_file():
        raw = load_pickle(class_file)
        if not isinstance(raw, (list, tuple, np.ndarray)) or len(raw) != n:
            raise UsageError(f"{class_file}: expected {n} class ids, one per image")
        class_ids = [int(c) for c in raw]
    elif layout.needs_class_info:
        raise UsageError(f"{class_file} is missing; dataset {layout.name} needs it to find the captions")

    emb_file = layout.split_file(root, split, EMBEDDINGS)
    embeddings, k = None, layout.captions_per_image
    if emb_file.is_file():
        embeddings, k = read_embeddings(emb_file, n)

    captions, placeholders, missing = [], [], []
    for i, key in enumerate(keys):
        path = layout.caption_path(root, key, class_ids[i] if class_ids else None)
        lines = read_caption_file(path) if path.is_file() else []
        if len(lines) < k:
            (placeholders if embeddings is not None else missing).append(key)
            lines = lines + [f"{key} caption {j}" for j in range(len(lines), k)]
        captions.extend(lines[:k])
    if missing:
        raise UsageError(f"{len(missing)} images of {root}/{split} have fewer than {k} captions "
                         f"(first: {missing[0]}) and there are no precomputed embeddings; "
                         f"run `ganzoo data check {root} --dataset {layout.name}`")
    if placeholders:
        warnings.warn(f"{len(placeholders)} images of {layout.name}/{split} lack caption text (first: "
                      f"{placeholders[0]}); placeholder captions used, only the precomputed embeddings "
                      f"carry their meaning", stacklevel=3)

    boxes = None
    if boxes_by_key is not None:
        absent = [k_ for k_ in keys if k_ not in boxes_by_key]
        if absent:
            raise UsageError(f"no bounding box for {len(absent)} images of {split} (first: {absent[0]})")
        boxes = [boxes_by_key[k_] for k_ in keys]

    return StackGANSplit(
        name=split, dataset=layout.name, root=root, keys=keys, class_ids=class_ids,
        image_paths=[str(layout.image_path(root, key)) for key in keys], boxes=boxes,
        captions=captions, captions_per_image=k, placeholder_captions=placeholders,
        embeddings=embeddings, embeddings_file=emb_file if embeddings is not None else None,
        embedding_mode=embedding_mode, use_cache=use_cache)


def _flag(value, what: str) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise UsageError(f"{what} expects true/false, got {value!r}")
    return bool(value)


def load_dataset(layout: Layout, data_dir, embedding: str = "random", cache=False) -> StackGANDataset:
    if data_dir is None or str(data_dir).strip() == "":
        raise UsageError(f"dataset {layout.name} needs --data-dir PATH pointing at the StackGAN "
                         f"'{layout.folder}' folder (with train/ and test/ inside)")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise UsageError(f"data dir {root} for dataset {layout.name} does not exist or is not a folder")
    if embedding not in EMBEDDING_MODES:
        raise UsageError(f"unknown embedding mode {embedding!r} for dataset {layout.name}; "
                         f"valid: {', '.join(EMBEDDING_MODES)}")
    boxes = None
    if layout.has_boxes:
        try:
            boxes = read_cub_boxes(root, layout)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the CUB bounding boxes: {exc}") from None
    use_cache = _flag(cache, "cache")
    splits = {s: load_split(layout, root, s, embedding, use_cache, boxes) for s in SPLITS}
    return StackGANDataset(layout, root, splits, embedding)


def make_factory(name: str):
    layout = LAYOUTS[name]

    # No **kwargs: the registry checks option names against this signature, so a misspelled
    # --dataset-opt key is refused with the nearest valid name instead of being ignored.
    def factory(data_dir=None, embedding: str = "random", cache=False):
        return load_dataset(layout, data_dir, embedding, cache)

    factory.__name__ = f"{name}_dataset"
    factory.__doc__ = (f"{layout.title} in the StackGAN '{layout.folder}' layout; options: data_dir, "
                       f"embedding ({'|'.join(EMBEDDING_MODES)}), cache (true/false).")
    return factory
