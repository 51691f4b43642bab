"""Kernel Inception Distance from features, in float64, at a fraction of torch-fidelity's cost.

Same estimator as torch-fidelity's ``kid`` (``metric_kid.kid_features_to_metric``): for each
of ``subsets`` subsets, ``subset_size`` rows drawn without replacement from each feature set,
the unbiased MMD^2 with the polynomial kernel k(x, y) = (gamma x.y + coef0)^degree
(defaults: gamma = 1/d, coef0 = 1, degree 3); the result is the mean and the (population)
standard deviation over the subsets. The subsets are drawn exactly as torch-fidelity draws
them (one ``np.random.RandomState(seed)``, per subset ``choice(n1, m, replace=False)`` then
``choice(n2, m, replace=False)``), so for the same seed both average the same subsets.

What differs is the arithmetic. torch-fidelity computes three m x m kernel matrices per
subset in float32 (100 subsets of 600 at N = 600: ~440 GFLOP, ~10 s of one CPU
core). Here the three kernel matrices of the whole sets are computed once in float64, in
row blocks, and every subset's kernel sums are read off them as quadratic forms of the
subsets' 0/1 indicator vectors: sum_{i, j in S} K_ij = s^T K s, for all subsets at once with
one (subsets x n) x (n x n) product per block. When the whole-set matrices would cost more
than the subsets' own (n much larger than subset_size * sqrt(subsets)), each subset is
computed on its own, as torch-fidelity does, but in float64. Results therefore agree with
torch-fidelity's to its float32 rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np

KEY_KID_MEAN = "kernel_inception_distance_mean"  # torch-fidelity's result keys
KEY_KID_STD = "kernel_inception_distance_std"
_BLOCK_ELEMENTS = 1 << 22  # kernel rows computed at a time: at most ~32 MB of float64


def kid(features_1, features_2, subsets: int = 100, subset_size: int = 1000, seed: int = 2020,
        degree: int = 3, gamma: float | None = None, coef0: float = 1.0,
        method: str = "auto") -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 over ``subsets`` random subsets, as torch-fidelity's KID.

    ``features_*``: (n, d) arrays or tensors, rows are samples (converted to float64).
    ``seed`` is torch-fidelity's ``rng_seed`` (default 2020). ``method``: ``"gram"`` (whole-set
    kernel matrices, quadratic forms per subset), ``"subsets"`` (each subset on its own) or
    ``"auto"`` (whichever does fewer FLOPs).
    """
    x, y = _float64(features_1), _float64(features_2)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"need two (n, d) feature sets of equal d, got {x.shape} and {y.shape}")
    (n1, d), n2, m = x.shape, len(y), int(subset_size)
    if m < 2 or m > min(n1, n2):
        raise ValueError(f"KID subset size {m} must be >= 2 and at most the sample counts ({n1}, {n2})")
    if subsets < 1:
        raise ValueError(f"KID needs at least one subset, got {subsets}")
    if method not in ("auto", "gram", "subsets"):
        raise ValueError(f"unknown KID method {method!r}")
    kernel = PolynomialKernel(degree, 1.0 / d if gamma is None else float(gamma), float(coef0))
    rng = np.random.RandomState(seed)
    picks = [(rng.choice(n1, m, replace=False), rng.choice(n2, m, replace=False)) for _ in range(subsets)]
    if method == "auto":
        gram_flops = (d + subsets) * (n1 * n1 + n2 * n2 + n1 * n2)
        method = "gram" if gram_flops <= subsets * 3 * m * m * d else "subsets"
    if method == "gram":
        mmds = _mmds_gram(x, y, picks, m, kernel)
    else:
        mmds = np.array([_mmd2_unbiased(kernel(x[i], x[i]), kernel(x[i], y[j]), kernel(y[j], y[j]))
                         for i, j in picks])
    return float(np.mean(mmds)), float(np.std(mmds))


def kid_featuresdict_to_metric(featuresdict_1: dict, featuresdict_2: dict, feat_layer_name: str,
                               **kwargs) -> dict[str, float]:
    """Drop-in for torch-fidelity's ``metric_kid.kid_featuresdict_to_metric``: the same
    arguments (its ``kid_*`` and ``rng_seed`` keyword arguments, torch-fidelity's defaults
    when absent) and result keys, computed by :func:`kid`. Only the polynomial kernel."""
    from torch_fidelity.helpers import get_kwarg

    if get_kwarg("kid_kernel", kwargs) != "poly":
        raise ValueError("ganzoo's KID implements torch-fidelity's polynomial kernel only")
    mean, std = kid(featuresdict_1[feat_layer_name], featuresdict_2[feat_layer_name],
                    subsets=get_kwarg("kid_subsets", kwargs), subset_size=get_kwarg("kid_subset_size", kwargs),
                    seed=get_kwarg("rng_seed", kwargs), degree=get_kwarg("kid_kernel_poly_degree", kwargs),
                    gamma=get_kwarg("kid_kernel_poly_gamma", kwargs), coef0=get_kwarg("kid_kernel_poly_coef0", kwargs))
    return {KEY_KID_MEAN: mean, KEY_KID_STD: std}


class PolynomialKernel:
    """k(a, b) = (gamma a.b + coef0)^degree, torch-fidelity's ``kernel_poly``."""

    def __init__(self, degree: int, gamma: float, coef0: float):
        self.degree, self.gamma, self.coef0 = degree, gamma, coef0

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T * self.gamma + self.coef0) ** self.degree

    def diagonal(self, a: np.ndarray) -> np.ndarray:
        """k(a_i, a_i) for every row, without the matrix."""
        return (np.einsum("ij,ij->i", a, a) * self.gamma + self.coef0) ** self.degree


def _mmd2_unbiased(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    """torch-fidelity's ``mmd2(..., mmd_est="unbiased")``: off-diagonal means of K_XX and
    K_YY minus twice the full mean of K_XY."""
    m = len(k_xx)
    within = k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)
    return float(within / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def _mmds_gram(x, y, picks, m: int, kernel) -> np.ndarray:
    """Every subset's MMD^2 from the whole-set kernel matrices (never held whole: row blocks)."""
    s1, s2 = _indicators([i for i, _ in picks], len(x)), _indicators([j for _, j in picks], len(y))
    sum_xx = _quadratic_forms(x, x, s1, s1, kernel) - s1 @ kernel.diagonal(x)
    sum_yy = _quadratic_forms(y, y, s2, s2, kernel) - s2 @ kernel.diagonal(y)
    sum_xy = _quadratic_forms(x, y, s1, s2, kernel)
    return (sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * sum_xy / (m * m)


def _indicators(picks: list[np.ndarray], n: int) -> np.ndarray:
    """(subsets, n) 0/1 rows: row s is 1 at the indices of subset s."""
    s = np.zeros((len(picks), n))
    for row, idx in enumerate(picks):
        s[row, idx] = 1.0
    return s


def _quadratic_forms(a, b, sa, sb, kernel) -> np.ndarray:
    """sa[s] @ kernel(a, b) @ sb[s] for every subset s, computing kernel(a, b) in row blocks."""
    acc = np.zeros((len(sa), len(b)))
    step = max(1, _BLOCK_ELEMENTS // max(1, len(b)))
    for start in range(0, len(a), step):
        acc += sa[:, start:start + step] @ kernel(a[start:start + step], b)
    return np.einsum("sj,sj->s", acc, sb)


def _float64(a) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)
