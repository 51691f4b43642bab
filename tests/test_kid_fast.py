"""ganzoo's float64 KID from features (:mod:`ganzoo_metrics.kid`) is torch-fidelity's KID.

Checked against torch-fidelity's own ``kid_features_to_metric`` on the same features and
seed (same subsets; agreement to torch-fidelity's float32 rounding), and against a direct
numpy computation written from the definition (explicit index sets, every kernel value
summed in loops over the subsets), on both of the module's routes: whole-set kernel
matrices with per-subset quadratic forms, and one subset at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganzoo_metrics.kid import KEY_KID_MEAN, KEY_KID_STD, kid, kid_featuresdict_to_metric


def _features(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """Correlated, non-negative, Inception-like float32 features (ReLU of a random linear map)."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g) / d ** 0.5
    return torch.relu(torch.randn(n, d, generator=g) @ mix + shift).float()


def _direct_kid(x: np.ndarray, y: np.ndarray, subsets: int, m: int, seed: int) -> tuple[float, float]:
    """From the definition: per subset, the mean of k over distinct pairs within each set minus
    twice the mean over cross pairs, k(a, b) = (a.b / d + 1)^3; subsets drawn as torch-fidelity."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    d = x.shape[1]
    rng = np.random.RandomState(seed)
    values = []
    for _ in range(subsets):
        a, b = x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)]
        k = lambda u, v: (u @ v.T / d + 1.0) ** 3  # noqa: E731
        off = ~np.eye(m, dtype=bool)
        values.append(k(a, a)[off].mean() + k(b, b)[off].mean() - 2.0 * k(a, b).mean())
    return float(np.mean(values)), float(np.std(values))


def _torch_fidelity_kid(f1: torch.Tensor, f2: torch.Tensor, subsets: int, m: int, seed: int) -> tuple[float, float]:
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    out = kid_features_to_metric(f1, f2, kid_subsets=subsets, kid_subset_size=m, rng_seed=seed, verbose=False)
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


# (n1, n2, d, subset size, subsets): subsets smaller than the sets, unequal sets, subset = whole set
CASES = [(120, 90, 64, 40, 25), (60, 60, 32, 60, 5), (300, 200, 512, 150, 8), (80, 150, 16, 80, 12)]


@pytest.mark.parametrize("method", ["gram", "subsets", "auto"])
@pytest.mark.parametrize("n1,n2,d,m,subsets", CASES)
def test_matches_a_direct_computation(method, n1, n2, d, m, subsets):
    x, y = _features(n1, d, 1).numpy(), _features(n2, d, 2, shift=0.1).numpy()
    mean, std = kid(x, y, subsets=subsets, subset_size=m, seed=7, method=method)
    ref_mean, ref_std = _direct_kid(x, y, subsets, m, seed=7)
    assert mean == pytest.approx(ref_mean, rel=1e-9, abs=1e-12)
    assert std == pytest.approx(ref_std, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("n1,n2,d,m,subsets", CASES + [(600, 600, 2048, 600, 3)])
def test_matches_torch_fidelity_kid(n1, n2, d, m, subsets):
    """Same subsets (same seed), torch-fidelity in float32: agreement to its rounding."""
    f1, f2 = _features(n1, d, 3), _features(n2, d, 4, shift=0.05)
    mean, std = kid(f1, f2, subsets=subsets, subset_size=m, seed=11)
    tf_mean, tf_std = _torch_fidelity_kid(f1, f2, subsets, m, seed=11)
    assert mean == pytest.approx(tf_mean, rel=1e-4, abs=1e-6)
    assert std == pytest.approx(tf_std, rel=1e-2, abs=1e-6)


def test_drop_in_for_torch_fidelity_featuresdict_call():
    """Same call as ``metric_kid.kid_featuresdict_to_metric(feats_1, feats_2, layer, **kwargs)``."""
    from torch_fidelity import metric_kid

    feats_1, feats_2 = {"f": _features(100, 48, 5)}, {"f": _features(120, 48, 6, shift=0.1)}
    kwargs = dict(kid_subset_size=50, kid_subsets=10, rng_seed=3, verbose=False, fid=True, batch_size=8)
    ours = kid_featuresdict_to_metric(feats_1, feats_2, "f", **kwargs)
    theirs = metric_kid.kid_featuresdict_to_metric(feats_1, feats_2, "f", **kwargs)
    assert set(ours) == set(theirs) == {KEY_KID_MEAN, KEY_KID_STD}
    assert ours[KEY_KID_MEAN] == pytest.approx(theirs[KEY_KID_MEAN], rel=1e-4, abs=1e-6)
    with pytest.raises(ValueError, match="polynomial"):
        kid_featuresdict_to_metric(feats_1, feats_2, "f", kid_kernel="rbf", **kwargs)


def test_the_seed_picks_the_subsets_and_whole_set_subsets_do_not_vary():
    x, y = _features(90, 24, 8).numpy(), _features(90, 24, 9, shift=0.2).numpy()
    assert kid(x, y, subsets=6, subset_size=30, seed=1) != kid(x, y, subsets=6, subset_size=30, seed=2)
    mean, std = kid(x, y, subsets=6, subset_size=90, seed=1)
    assert std == pytest.approx(0.0, abs=1e-12)
    assert mean == pytest.approx(kid(x, y, subsets=1, subset_size=90, seed=5)[0], rel=1e-12)


def test_identical_distributions_give_about_zero_and_shifted_ones_more():
    x, y = _features(400, 32, 10).numpy(), _features(400, 32, 11).numpy()
    same, _ = kid(x, y, subsets=20, subset_size=200)
    shifted, _ = kid(x, y + 0.5, subsets=20, subset_size=200)
    assert abs(same) < 0.1 * shifted


@pytest.mark.parametrize("kwargs,match", [(dict(subset_size=101), "subset size"), (dict(subset_size=1), "subset size"),
                                          (dict(subsets=0), "subset"), (dict(method="fast"), "method")])
def test_rejects_bad_arguments(kwargs, match):
    x, y = np.ones((100, 4)), np.ones((120, 4))
    with pytest.raises(ValueError, match=match):
        kid(x, y, **{"subset_size": 50, **kwargs})
    with pytest.raises(ValueError, match="equal d"):
        kid(x, np.ones((120, 5)), subset_size=50)
