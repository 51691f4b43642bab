"""Validate a StackGAN data folder and list exactly what is missing or malformed.

Per split it compares the counts of file names, embeddings and class ids, checks the
embedding array's shape, that every image exists and decodes completely (a truncated
JPEG fails), that every caption file exists with K captions, and (CUB) that the
bounding-box files parse and cover every image.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ganzoo_realdata.layout import (CLASS_INFO, EMBEDDING_DIM, EMBEDDINGS, FILENAMES, SPLITS, Layout,
                                    as_embedding_array, read_cub_boxes)
from ganzoo_realdata.safe_pickle import PickleLoadError, load_pickle


@dataclass(frozen=True)
class Problem:
    kind: str  # a short tag, e.g. "missing-image"
    message: str

    def line(self) -> str:
        return f"[{self.kind}] {self.message}"


@dataclass
class CheckReport:
    root: Path
    layout: Layout
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, dict[str, int | str]] = field(default_factory=dict)

    def add(self, kind: str, message: str) -> None:
        self.problems.append(Problem(kind, message))

    @property
    def title(self) -> str:
        return f"{self.layout.title} ('{self.layout.folder}' layout)"

    def by_kind(self) -> Counter:
        return Counter(p.kind for p in self.problems)

    @property
    def ok(self) -> bool:
        return not self.problems


def _image_error(path: str) -> str | None:
    """None if the image decodes completely, else why not."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.width < 1 or img.height < 1:
                return "image has no pixels"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _load(report: CheckReport, path: Path, what: str):
    if not path.is_file():
        report.add("missing-file", f"{path} ({what}) is missing")
        return None
    try:
        return load_pickle(path)
    except PickleLoadError as exc:
        report.add("bad-pickle", str(exc))
        return None


def check_split(report: CheckReport, split: str, boxes: dict | None, decode_images: bool, workers: int) -> None:
    root, layout = report.root, report.layout
    counts: dict[str, int | str] = {}
    report.counts[split] = counts

    keys = _load(report, layout.split_file(root, split, FILENAMES), "list of image keys")
    if keys is not None and (not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys)):
        report.add("bad-filenames", f"{layout.split_file(root, split, FILENAMES)} is not a list of strings")
        keys = None
    n = len(keys) if keys is not None else None
    counts["filenames"] = n if n is not None else "unreadable"

    k = layout.captions_per_image
    emb_path = layout.split_file(root, split, EMBEDDINGS)
    emb = _load(report, emb_path, "caption embeddings")
    if emb is not None:
        emb = as_embedding_array(emb)
        if not isinstance(emb, np.ndarray) or emb.dtype.kind not in "fiu":
            report.add("embedding-shape", f"{emb_path}: expected a numeric array (N, K, {EMBEDDING_DIM}) or a list of "
                                          f"(K, {EMBEDDING_DIM}) arrays, found {type(emb).__name__}")
        elif emb.ndim != 3:
            report.add("embedding-shape", f"{emb_path}: expected ndim 3 (N, K, {EMBEDDING_DIM}), "
                                          f"found ndim {emb.ndim} shape {emb.shape}")
        else:
            counts["embeddings"] = "x".join(str(d) for d in emb.shape)
            k = int(emb.shape[1])
            if emb.shape[2] != EMBEDDING_DIM:
                report.add("embedding-shape", f"{emb_path}: embedding width {emb.shape[2]}, expected {EMBEDDING_DIM}")
            if n is not None and emb.shape[0] != n:
                report.add("count-mismatch", f"{split}: {emb.shape[0]} embedding rows but {n} file names")
            if not np.isfinite(emb).all():
                report.add("embedding-values", f"{emb_path}: contains NaN or infinite values")

    class_ids = None
    class_path = layout.split_file(root, split, CLASS_INFO)
    info = _load(report, class_path, "class ids")
    if info is not None:
        try:
            class_ids = [int(c) for c in info]
            counts["class_ids"] = len(class_ids)
            if n is not None and len(class_ids) != n:
                report.add("count-mismatch", f"{split}: {len(class_ids)} class ids but {n} file names")
                class_ids = None
        except (TypeError, ValueError):
            report.add("bad-class-info", f"{class_path}: expected a list of integer class ids")
    if keys is None:
        return

    image_paths = [layout.image_path(root, key) for key in keys]
    present = [p for p in image_paths if p.is_file()]
    counts["images"] = len(present)
    for key, path in zip(keys, image_paths):
        if not path.is_file():
            report.add("missing-image", f"{split}: image of {key} not found at {path}")
    if decode_images and present:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for path, err in zip(present, pool.map(_image_error, map(str, present))):
                if err:
                    report.add("bad-image", f"{split}: {path} cannot be decoded ({err})")

    found = 0
    for i, key in enumerate(keys):
        cls = class_ids[i] if class_ids is not None else None
        if layout.needs_class_info and cls is None:
            break  # cannot locate flowers captions without class ids (already reported)
        path = layout.caption_path(root, key, cls)
        if not path.is_file():
            report.add("missing-captions", f"{split}: caption file of {key} not found at {path}")
            continue
        found += 1
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = [line for line in fh if line.strip()]
        if len(lines) < k:
            report.add("short-captions", f"{split}: {path} has {len(lines)} captions, expected {k}")
    counts["caption_files"] = found

    if boxes is not None:
        absent = [key for key in keys if key not in boxes]
        for key in absent:
            report.add("missing-box", f"{split}: no bounding box for {key} in bounding_boxes.txt")


def check_folder(root: str | Path, layout: Layout, decode_images: bool = True, workers: int = 4) -> CheckReport:
    report = CheckReport(Path(root), layout)
    if not report.root.is_dir():
        report.add("missing-file", f"{report.root} does not exist or is not a folder")
        return report
    boxes = None
    if layout.has_boxes:
        images_txt, boxes_txt = layout.box_files(report.root)
        for path in (images_txt, boxes_txt):
            if not path.is_file():
                report.add("bad-boxes", f"{path} is missing")
        if images_txt.is_file() and boxes_txt.is_file():
            try:
                boxes = read_cub_boxes(report.root, layout)
            except (OSError, ValueError) as exc:
                report.add("bad-boxes", str(exc))
    for split in SPLITS:
        check_split(report, split, boxes, decode_images, workers)
    return report
