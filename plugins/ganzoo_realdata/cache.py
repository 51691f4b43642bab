"""A one-time cache of decoded, cropped and resized images, as one uint8 ``.npy`` per split.

Decoding JPEGs dominates the cost of a batch. With ``cache=True`` a split's images
are decoded once at ``load_size`` into ``(N, L, L, 3)`` uint8, saved with ``np.save``'s
format (written through a memory map, so it never has to fit in RAM) and read back
with ``np.load(mmap_mode='r', allow_pickle=False)``; the random crop and flip still
happen per batch. The file lives under ``$GANZOO_CACHE/realdata`` when that is set,
else under ``<data dir>/.ganzoo-cache/``, named by a hash of the file list, boxes,
file sizes and modification times and ``L``: any change to the data gives a new file.
Concurrent builders (DataLoader workers, ranks) serialise on a lock file.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ganzoo.errors import GanzooError

CACHE_VERSION = "1"


def cache_root(data_dir: str | Path) -> Path:
    env = os.environ.get("GANZOO_CACHE")
    return Path(env) / "realdata" if env else Path(data_dir) / ".ganzoo-cache"


def cache_key(tag: str, paths: Sequence[str], boxes: Sequence | None, size: int) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}|{tag}|{size}|{len(paths)}".encode())
    for i, p in enumerate(paths):
        try:
            st = os.stat(p)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        box = boxes[i] if boxes is not None else None
        h.update(f"\x00{p}|{box}|{stamp}".encode())
    return h.hexdigest()[:20]


@contextmanager
def _locked(path: Path):
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(path: Path, n: int, size: int, decode_one: Callable[[int], np.ndarray], progress: bool = True) -> None:
    """Write ``decode_one(i)`` for i < n into ``path`` (atomic: a temp file renamed when complete)."""
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npy")
    arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
    try:
        from tqdm import tqdm
        for i in tqdm(range(n), desc=f"caching {path.name}", disable=not progress or n < 500, leave=False):
            arr[i] = decode_one(i)
        arr.flush()
        del arr
        os.replace(tmp, path)
    except BaseException:
        del arr
        tmp.unlink(missing_ok=True)
        raise


def open_or_build(directory: Path, name: str, n: int, size: int,
                  decode_one: Callable[[int], np.ndarray]) -> np.ndarray:
    """The cached array (read-only memory map), building it first if absent."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanzooError(f"cannot create the image cache folder {directory} ({exc}); "
                          f"set GANZOO_CACHE to a writable folder or run without cache") from None
    path = directory / f"{name}.npy"
    if not path.exists():
        with _locked(directory / f"{name}.lock"):
            if not path.exists():
                build(path, n, size, decode_one)
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    if arr.shape != (n, size, size, 3) or arr.dtype != np.uint8:
        raise GanzooError(f"image cache {path} has shape {arr.shape} {arr.dtype}, expected "
                          f"{(n, size, size, 3)} uint8; delete it to rebuild")
    return arr
