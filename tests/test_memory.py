"""Peak memory figures: freed heap memory is handed back between a run's training and its evaluation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ganzoo.bench import BenchPlan, bench_preset
from ganzoo.bench_run import run_one
from ganzoo.memory import current_rss_mb
from ganzoo.runs import RunSpec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim, /proc")

# libc's malloc and free, callable from a subprocess's script
_LIBC = """
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
"""

# Small blocks come from the malloc heap (below glibc's mmap threshold); the last one stays alive, so
# the freed blocks below it cannot be trimmed off the top of the heap by free() itself.
_FRAGMENT = _LIBC + """
from ganzoo.memory import current_rss_mb, release_free_memory
blocks = [libc.malloc(64 * 1024) for _ in range(3200)]  # 200 MiB
for b in blocks:
    ctypes.memset(b, 1, 64 * 1024)
for b in blocks[:-1]:
    libc.free(b)
held = current_rss_mb()
ran = release_free_memory()
print(held - current_rss_mb(), ran)
"""


def test_release_free_memory_returns_freed_heap_pages():
    out = subprocess.run([sys.executable, "-c", _FRAGMENT], capture_output=True, text=True, check=True).stdout
    dropped, ran = out.split()
    assert ran == "True"
    assert float(dropped) > 150, out  # the ~200 MiB freed but still resident is handed back


# glibc marks a chunk served by its own mapping with bit 2 of the size word just before it.
_THRESHOLD = _LIBC + """
from ganzoo.memory import release_free_memory
def mapped(size):
    p = libc.malloc(size)
    flag = bool(ctypes.c_size_t.from_address(p - ctypes.sizeof(ctypes.c_size_t)).value & 2)
    libc.free(p)
    return flag
first = mapped(8 << 20)         # above the initial threshold: mapped; freeing it raises the threshold
raised = mapped(4 << 20)        # now below it: from the heap
ran = release_free_memory()
print(first, raised, ran, mapped(4 << 20), mapped(256 << 10))
"""


def test_release_free_memory_pins_the_mmap_threshold():
    out = subprocess.run([sys.executable, "-c", _THRESHOLD], capture_output=True, text=True, check=True).stdout
    first, raised, ran, after, small = out.split()
    assert (first, raised) == ("True", "False"), out  # glibc's dynamic threshold did rise
    assert ran == "True"
    assert (after, small) == ("True", "True"), out  # after the release, mid-sized blocks are mapped again


def test_bench_releases_memory_between_training_and_evaluation(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("ganzoo.bench_run.release_free_memory", lambda: calls.append("release"))
    import ganzoo.bench_run as bench_run

    evaluate = bench_run.evaluate_run
    monkeypatch.setattr(bench_run, "evaluate_run", lambda *a, **k: (calls.append("evaluate"), evaluate(*a, **k))[1])
    settings = dict(bench_preset("cpu")) | {"metrics": ["caption-accuracy"], "eval_samples": 12, "grid_captions": 2,
                                            "grid_samples": 2}
    spec = RunSpec(model="gan-int-cls", overrides={"ngf": "4", "ndf": "4", "batch_size": "8", "image_size": "16",
                                                   "z_dim": "8"},
                   dataset_options={"n_train": 64, "n_test": 32}, text_norm="zscore", seed=0, steps=2)
    plan = BenchPlan(bench_id="mem", out=tmp_path / "bench", specs=[spec], preset=settings, device="cpu",
                     progress=False, command="ganzoo bench (test)")
    row = run_one(plan, plan.specs[0])
    assert row["status"] in ("ok", "collapsed"), row.get("reason")  # 2 steps: scored either way
    assert calls == ["release", "evaluate"]


_FILE_VS_ANON = """
import mmap, sys, time
from ganzoo.memory import process_peak_mb, process_peak_rss_mb, start_peak_sampler
assert start_peak_sampler()
time.sleep(0.05)
base, base_hwm = process_peak_mb(), process_peak_rss_mb()
with open(sys.argv[1], "rb") as fh:  # 300 MiB of a file, read through a mapping: file-backed pages
    mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    total = sum(mapped[i] for i in range(0, len(mapped), 4096))
    file_hwm, file_peak = process_peak_rss_mb(), process_peak_mb()
    mapped.close()
held = bytearray(300 << 20)  # 300 MiB of the heap, touched, held for a while, then freed
for i in range(0, len(held), 4096):
    held[i] = 1
time.sleep(0.3)
del held
print(file_hwm - base_hwm, file_peak - base, process_peak_mb() - base)
"""


def test_cpu_peak_counts_the_heap_not_mapped_file_pages(tmp_path):
    """Shared-library and other file pages raise VmHWM by what the page cache holds; the CPU
    figure leaves them out, and the sampler catches a heap peak that is gone when asked."""
    data = tmp_path / "blob"
    data.write_bytes(b"\x01" * (300 << 20))
    out = subprocess.run([sys.executable, "-c", _FILE_VS_ANON, str(data)], capture_output=True, text=True,
                         check=True).stdout
    file_hwm_rise, file_peak_rise, heap_peak_rise = map(float, out.split())
    assert file_hwm_rise > 250, out  # the mapping did become resident
    assert file_peak_rise < 30, out  # ... and is not counted
    assert heap_peak_rise > 250, out  # the freed 300 MiB were seen while held
