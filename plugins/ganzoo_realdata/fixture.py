"""Tiny synthetic data folders in the exact StackGAN layout, for tests and benchmarks.

The pickles are written the way the original Python 2 release wrote them (protocol 2,
``str`` as byte strings, numpy arrays referencing ``numpy.core.multiarray``), by
emitting the opcodes directly: Python 3's pickler would write different globals.
Each image is a background with the bounding box filled in :data:`BOX_COLOUR`, so a
test can see where the crop landed.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw

from ganzoo_realdata.layout import CLASS_INFO, EMBEDDINGS, FILENAMES

BOX_COLOUR = (230, 20, 20)
BACKGROUND = (20, 40, 200)


# ---- Python 2 style pickles ------------------------------------------------------------
def _py2_str(data: bytes) -> bytes:
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data
    return b"T" + struct.pack("<i", len(data)) + data


def _py2_int(v: int) -> bytes:
    return b"J" + struct.pack("<i", int(v))


def _py2_array(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr)
    if arr.dtype.byteorder == ">":
        raise ValueError("big-endian arrays are not written")
    endian = "|" if arr.dtype.itemsize == 1 else "<"
    out = [b"cnumpy.core.multiarray\n_reconstruct\n", b"cnumpy\nndarray\n", b"K\x00\x85", _py2_str(b"b"),
           b"\x87R", b"(K\x01", b"(" + b"".join(_py2_int(d) for d in arr.shape) + b"t",
           b"cnumpy\ndtype\n", _py2_str(arr.dtype.str[1:].encode()), b"K\x00K\x01\x87R",
           b"(K\x03", _py2_str(endian.encode()), b"NNN", _py2_int(-1), _py2_int(-1), b"K\x00tb",
           b"\x89", _py2_str(arr.tobytes()), b"tb"]
    return b"".join(out)


def _py2_value(obj: Any) -> bytes:
    if isinstance(obj, np.ndarray):
        return _py2_array(obj)
    if isinstance(obj, str):
        return _py2_str(obj.encode("latin1"))
    if isinstance(obj, (int, np.integer)):
        return _py2_int(int(obj))
    if isinstance(obj, (list, tuple)):
        return b"](" + b"".join(_py2_value(v) for v in obj) + b"e"
    raise TypeError(f"cannot write {type(obj).__name__} as a Python 2 pickle")


def py2_pickle_bytes(obj: Any) -> bytes:
    return b"\x80\x02" + _py2_value(obj) + b"."


def write_py2_pickle(obj: Any, path: Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(py2_pickle_bytes(obj))


# ---- images and trees --------------------------------------------------------------------
def draw_image(path: Path, size: tuple[int, int], box: Sequence[float], noise: float = 0.0, seed: int = 0) -> None:
    """A JPEG of ``size`` (w, h), background colour with ``box`` (x, y, w, h) filled in BOX_COLOUR."""
    img = Image.new("RGB", size, BACKGROUND)
    x, y, w, h = box
    ImageDraw.Draw(img).rectangle([x, y, x + w - 1, y + h - 1], fill=BOX_COLOUR)
    if noise:
        rng = np.random.default_rng(seed)
        arr = np.asarray(img, dtype=np.float32) + rng.normal(0, noise, (size[1], size[0], 3))
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=92)


def _sizes(n: int, sizes: Sequence[tuple[int, int]] | None) -> list[tuple[int, int]]:
    sizes = list(sizes or [(120, 90), (96, 128), (150, 100), (100, 100)])
    return [sizes[i % len(sizes)] for i in range(n)]


def _box_for(size: tuple[int, int], i: int) -> tuple[float, float, float, float]:
    w, h = size
    bw, bh = int(w * 0.3) + (i % 3), int(h * 0.25) + (i % 2) * 3
    # Box well inside the image so the 1.5x square crop is not clipped.
    return float(w // 2 - bw // 2 + (i % 2) * 4), float(h // 2 - bh // 2), float(bw), float(bh)


def _embeddings(n: int, k: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, k, 1024)).astype(np.float32)


def _write_split(root: Path, split: str, keys: list[str], class_ids: list[int], k: int, seed: int,
                 as_list: bool = False) -> None:
    write_py2_pickle(keys, root / split / FILENAMES)
    write_py2_pickle(class_ids, root / split / CLASS_INFO)
    emb = _embeddings(len(keys), k, seed)
    write_py2_pickle(list(emb) if as_list else emb, root / split / EMBEDDINGS)


def _captions(path: Path, key: str, k: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"this bird {key.split('/')[-1]} has feature number {j}\n" for j in range(k)))


def make_birds(root: Path, n_train: int = 4, n_test: int = 3, sizes=None, noise: float = 0.0) -> dict:
    """A 'birds' folder; returns {split: [(key, size, box), ...]}."""
    root = Path(root)
    all_sizes = _sizes(n_train + n_test, sizes)
    lines_img, lines_box, out, i = [], [], {}, 0
    for split, n, classes in (("train", n_train, (1, 2)), ("test", n_test, (3,))):
        keys, cls, items = [], [], []
        for j in range(n):
            c = classes[j % len(classes)]
            key = f"{c:03d}.Bird_{c}/Bird_{c}_{j:04d}_{split}"
            size, box = all_sizes[i], _box_for(all_sizes[i], i)
            draw_image(root / "CUB_200_2011" / "images" / f"{key}.jpg", size, box, noise, seed=i)
            _captions(root / "text_c10" / f"{key}.txt", key, 10)
            lines_img.append(f"{i + 1} {key}.jpg\n")
            lines_box.append(f"{i + 1} {box[0]:.1f} {box[1]:.1f} {box[2]:.1f} {box[3]:.1f}\n")
            keys.append(key), cls.append(c), items.append((key, size, box))
            i += 1
        _write_split(root, split, keys, cls, 10, seed=len(out))
        out[split] = items
    (root / "CUB_200_2011" / "images.txt").write_text("".join(lines_img))
    (root / "CUB_200_2011" / "bounding_boxes.txt").write_text("".join(lines_box))
    return out


def make_flowers(root: Path, n_train: int = 4, n_test: int = 2, sizes=None) -> dict:
    root = Path(root)
    all_sizes, out, i = _sizes(n_train + n_test, sizes), {}, 0
    for split, n, classes in (("train", n_train, (1, 2)), ("test", n_test, (7,))):
        keys, cls, items = [], [], []
        for j in range(n):
            c, key = classes[j % len(classes)], f"jpg/image_{i + 1:05d}"
            size, box = all_sizes[i], _box_for(all_sizes[i], i)
            draw_image(root / f"{key}.jpg", size, box, seed=i)
            _captions(root / "text_c10" / f"class_{c:05d}" / f"image_{i + 1:05d}.txt", key, 10)
            keys.append(key), cls.append(c), items.append((key, size, box))
            i += 1
        _write_split(root, split, keys, cls, 10, seed=10 + len(out), as_list=True)  # N arrays (10, 1024)
        out[split] = items
    return out


def make_coco(root: Path, n_train: int = 3, n_test: int = 2, sizes=None) -> dict:
    """A StackGAN-v2 style 'coco' folder: images in train2014/ and val2014/, captions in text/, K=5."""
    root = Path(root)
    all_sizes, out, i = _sizes(n_train + n_test, sizes), {}, 0
    for split, n, folder in (("train", n_train, "train2014"), ("test", n_test, "val2014")):
        keys, items = [], []
        for j in range(n):
            key = f"COCO_{folder}_{i + 9:012d}"
            size, box = all_sizes[i], _box_for(all_sizes[i], i)
            draw_image(root / folder / f"{key}.jpg", size, box, seed=i)
            _captions(root / "text" / f"{key}.txt", key, 5)
            keys.append(key), items.append((key, size, box))
            i += 1
        _write_split(root, split, keys, [0] * n, 5, seed=20 + len(out))
        out[split] = items
    return out
