"""Speed of the shapes dataset: rendering, building the caption table, loading cached batches.

Run with ``make perf`` or ``pytest benchmarks/test_bench_shapes.py --benchmark-only``.
Rendering is timed on one CPU thread (the issue's target: 10,000 images at 64x64 in
well under a minute on one core).
"""

from __future__ import annotations

import pytest
import torch

from ganzoo_shapes import make_shapes, render
from ganzoo_shapes.dataset import _generator, _sample, heldout_pairs

N_IMAGES = 10_000


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def attrs_and_jitter():
    held = heldout_pairs(0)
    pairs = [(s, c) for s in range(5) for c in range(8) if (s, c) not in held]
    return _sample(N_IMAGES, pairs, _generator(0, "bench"))


@pytest.mark.parametrize("size", [32, 64])
def test_render_10k(benchmark, one_thread, attrs_and_jitter, size):
    attrs, jitter = attrs_and_jitter
    images = benchmark.pedantic(render, args=(attrs, size, jitter), rounds=3, iterations=1, warmup_rounds=1)
    assert images.shape == (N_IMAGES, 3, size, size) and images.dtype == torch.uint8
    benchmark.extra_info["images_per_second"] = N_IMAGES / benchmark.stats.stats.mean


def test_build_default_dataset(benchmark, one_thread):
    ds = benchmark.pedantic(make_shapes, rounds=3, iterations=1)
    benchmark.extra_info["unique_captions_train"] = len(ds.split("train").captions)
    benchmark.extra_info["unique_captions_test"] = len(ds.split("test").captions)
    assert len(ds.split("train")) == 20_000


def test_load_cached_batch_64(benchmark, one_thread):
    split = make_shapes(n_train=2_000, n_test=2).split("train")
    split.images(64)  # fill the cache: a batch is then indexing plus conversion
    idx = torch.randperm(len(split))[:64].tolist()
    batch = benchmark(split.load_images, idx, 64, True, 0)
    assert batch.shape == (64, 3, 64, 64)
