"""Loader throughput of the real-data plugin (cub layout): images/s of loading training batches.

Builds a small StackGAN 'birds' tree in a tmp dir (CUB-sized JPEGs, 500x375 and similar,
with photo-like noise so decoding costs what real photos cost) and times
``split.load_images`` for batches of 32 in one process on one thread, from JPEGs and
from the uint8 ``.npy`` cache (built once outside the timing). The random crop and flip
run in both. Run with ``pytest benchmarks/test_bench_loader.py --benchmark-only``;
``images_per_second`` is in each result's extra_info.
"""

from __future__ import annotations

import pytest
import torch

from ganzoo_realdata import fixture
from ganzoo_realdata.dataset import make_factory

N_IMAGES = 64
BATCH = 32
CUB_LIKE_SIZES = [(500, 375), (500, 333), (375, 500), (500, 400)]


@pytest.fixture(scope="module")
def birds_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench") / "birds"
    fixture.make_birds(root, n_train=N_IMAGES, n_test=2, sizes=CUB_LIKE_SIZES, noise=25.0)
    return root


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("image_size", [64, 256])
@pytest.mark.parametrize("cache", [False, True], ids=["jpeg", "cache"])
def test_load_batches(benchmark, birds_root, one_thread, tmp_path, monkeypatch, cache, image_size):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    split = make_factory("cub")(data_dir=str(birds_root), cache=cache).split("train")
    if cache:
        split.cached_images(image_size)  # one-time build, not timed
    batches = [list(range(i, i + BATCH)) for i in range(0, N_IMAGES, BATCH)]

    def load_epoch():
        return [split.load_images(b, image_size, True, seed=i) for i, b in enumerate(batches)]

    out = benchmark.pedantic(load_epoch, rounds=3, iterations=1, warmup_rounds=1)
    assert out[0].shape == (BATCH, 3, image_size, image_size)
    benchmark.extra_info["images_per_second"] = round(N_IMAGES / benchmark.stats.stats.mean, 1)
