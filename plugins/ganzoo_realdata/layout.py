"""Where each file of a StackGAN-style data folder lives, per dataset.

Common to all three (the folder the user passes as ``--data-dir``)::

    {train,test}/filenames.pickle                 list of N image keys
    {train,test}/char-CNN-RNN-embeddings.pickle   float array (N, K, 1024), K captions per image
    {train,test}/class_info.pickle                list of N class ids

Per dataset:

* ``cub`` (StackGAN ``birds``): key ``002.Laysan_Albatross/Laysan_Albatross_0002_1027``;
  image ``CUB_200_2011/images/<key>.jpg``; boxes from ``CUB_200_2011/images.txt``
  (``id relpath``) and ``CUB_200_2011/bounding_boxes.txt`` (``id x y w h``); captions
  ``text_c10/<key>.txt``.
* ``oxford102`` (StackGAN ``flowers``): key ``jpg/image_06734``; image ``<key>.jpg``;
  no boxes; captions ``text_c10/class_%05d/image_06734.txt`` with the class id from
  ``class_info.pickle``.
* ``coco``: the StackGAN-v2 / AttnGAN COCO folder. Assumed: keys are file stems such as
  ``COCO_train2014_000000000009`` (a key may also carry its folder, ``train2014/...``);
  the image is the first that exists of ``<key>.jpg``, ``images/<key>.jpg``,
  ``train2014/<stem>.jpg``, ``val2014/<stem>.jpg``; captions the first of
  ``text_c10/<key>.txt`` and ``text/<key>.txt``; no boxes (the whole image is used);
  K = 5 captions per image unless the embedding file says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "test")
FILENAMES = "filenames.pickle"
EMBEDDINGS = "char-CNN-RNN-embeddings.pickle"
CLASS_INFO = "class_info.pickle"
EMBEDDING_DIM = 1024


@dataclass(frozen=True)
class Layout:
    """Paths of one dataset's files below its root folder (picklable, no state)."""

    name: str
    folder: str  # the StackGAN folder name users know it by
    title: str
    captions_per_image: int = 10
    has_boxes: bool = False
    needs_class_info: bool = False

    def split_file(self, root: Path, split: str, filename: str) -> Path:
        return Path(root) / split / filename

    def image_candidates(self, root: Path, key: str) -> list[Path]:
        return [Path(root) / f"{key}.jpg"]

    def image_path(self, root: Path, key: str) -> Path:
        """The first candidate that exists, else the first candidate (for error messages)."""
        candidates = self.image_candidates(root, key)
        return next((p for p in candidates if p.is_file()), candidates[0])

    def caption_candidates(self, root: Path, key: str, class_id: int | None) -> list[Path]:
        return [Path(root) / "text_c10" / f"{key}.txt"]

    def caption_path(self, root: Path, key: str, class_id: int | None) -> Path:
        candidates = self.caption_candidates(root, key, class_id)
        return next((p for p in candidates if p.is_file()), candidates[0])

    # CUB only; the other layouts have no boxes.
    def box_files(self, root: Path) -> tuple[Path, Path]:
        base = Path(root) / "CUB_200_2011"
        return base / "images.txt", base / "bounding_boxes.txt"


@dataclass(frozen=True)
class BirdsLayout(Layout):
    def image_candidates(self, root, key):
        return [Path(root) / "CUB_200_2011" / "images" / f"{key}.jpg"]


@dataclass(frozen=True)
class FlowersLayout(Layout):
    def caption_candidates(self, root, key, class_id):
        stem = key.split("/")[-1]
        cls = "unknown" if class_id is None else f"{int(class_id):05d}"
        return [Path(root) / "text_c10" / f"class_{cls}" / f"{stem}.txt"]


@dataclass(frozen=True)
class CocoLayout(Layout):
    def image_candidates(self, root, key):
        root, stem = Path(root), key.split("/")[-1]
        return [root / f"{key}.jpg", root / "images" / f"{key}.jpg",
                root / "train2014" / f"{stem}.jpg", root / "val2014" / f"{stem}.jpg"]

    def caption_candidates(self, root, key, class_id):
        root = Path(root)
        return [root / "text_c10" / f"{key}.txt", root / "text" / f"{key}.txt"]


LAYOUTS: dict[str, Layout] = {
    "cub": BirdsLayout("cub", "birds", "CUB-200-2011 birds", has_boxes=True),
    "oxford102": FlowersLayout("oxford102", "flowers", "Oxford-102 flowers", needs_class_info=True),
    "coco": CocoLayout("coco", "coco", "MS-COCO 2014", captions_per_image=5),
}


Box = tuple[float, float, float, float]


def read_cub_boxes(root: Path, layout: Layout) -> dict[str, Box]:
    """``{key: (x, y, w, h)}`` from CUB's images.txt + bounding_boxes.txt.

    Raises ``ValueError`` naming the file and line of the first malformed entry.
    """
    images_txt, boxes_txt = layout.box_files(root)
    paths: dict[str, str] = {}
    for lineno, line in _lines(images_txt):
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{images_txt}:{lineno}: expected 'id path', got {line!r}")
        key = parts[1][:-4] if parts[1].endswith(".jpg") else parts[1]
        paths[parts[0]] = key
    boxes: dict[str, Box] = {}
    for lineno, line in _lines(boxes_txt):
        parts = line.split()
        try:
            if len(parts) != 5:
                raise ValueError
            x, y, w, h = (float(v) for v in parts[1:])
        except ValueError:
            raise ValueError(f"{boxes_txt}:{lineno}: expected 'id x y w h' numbers, got {line!r}") from None
        if w <= 0 or h <= 0 or x < 0 or y < 0:
            raise ValueError(f"{boxes_txt}:{lineno}: box has negative origin or empty size: {line!r}")
        if parts[0] not in paths:
            raise ValueError(f"{boxes_txt}:{lineno}: image id {parts[0]} is not listed in {images_txt.name}")
        boxes[paths[parts[0]]] = (x, y, w, h)
    return boxes


def _lines(path: Path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                yield lineno, line.strip()


def as_embedding_array(obj):
    """The pickle's content as an array: StackGAN's files hold either one (N, K, D) array or a
    list of N (K, D) arrays (its loaders call ``np.array`` on what they read); None if ragged."""
    if isinstance(obj, (list, tuple)):
        try:
            return np.asarray(obj)
        except ValueError:
            return None
    return obj
