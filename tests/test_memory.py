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

# Small blocks come from the malloc heap (below glibc's mmap threshold); the last one stays alive, so
# the freed blocks below it cannot be trimmed off the top of the heap by free() itself.
_FRAGMENT = """
import ctypes, ctypes.util
from ganzoo.memory import current_rss_mb, release_free_memory
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
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
