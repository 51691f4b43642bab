"""The shapes attribute evaluator: a small CNN that reads every attribute of a ``shapes`` image.

Any input resolution is resized (bilinear, antialiased) to :data:`INPUT_SIZE`; the network
was trained on renders at 16..128 px (see :mod:`ganzoo_metrics.evaluator_train`), so its
answer does not depend on a model's output size. It gives

* per-attribute log-probabilities (caption accuracy, R-precision),
* 128-d penultimate features divided by their RMS on renders (domain FID / KID), and
* ``logits_unbiased``: log-probabilities over the joint of :data:`IS_ATTRIBUTES`
  (shape x colour, 40 classes) taken as the product of the two predicted marginals. The
  domain Inception Score is torch-fidelity's IS over that 40-way distribution (at most 40:
  sharp, evenly spread shape-colour predictions). A concatenation of per-attribute
  softmaxes is not a distribution, hence the joint.

The weights ship as ``shapes_evaluator.safetensors`` (float16) with
``shapes_evaluator.json`` recording the command, seed and measured accuracy.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ganzoo.errors import GanzooError

INPUT_SIZE = 64
FEATURE_DIM = 128
IS_ATTRIBUTES = ("shape", "colour")
EXTRACTOR_NAME = "ganzoo-shapes-evaluator"
SHIPPED_WEIGHTS = Path(__file__).with_name("shapes_evaluator.safetensors")
SHIPPED_REPORT = SHIPPED_WEIGHTS.with_suffix(".json")


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class AttributeNet(nn.Module):
    """64 px -> four stride-2 conv blocks (16-32-64-64 channels, 4x4x64 out) -> 128-d features -> one linear head per attribute.
    Flattening (not pooling) keeps where the shape is, which the position attribute needs."""

    def __init__(self, attribute_values: dict[str, list[str]]):
        super().__init__()
        self.attribute_values = {a: list(v) for a, v in attribute_values.items()}
        self.body = nn.Sequential(_block(3, 16), _block(16, 32), _block(32, 64), _block(64, 64), nn.Flatten(),
                                  nn.Linear(64 * (INPUT_SIZE // 16) ** 2, FEATURE_DIM), nn.ReLU(inplace=True))
        self.heads = nn.ModuleDict({a: nn.Linear(FEATURE_DIM, len(v)) for a, v in self.attribute_values.items()})
        # RMS of the features on rendered images, set after training: domain FID/KID use
        # features / feature_scale, so KID's cubic kernel (x.y/d + 1)^3 stays near 1
        self.register_buffer("feature_scale", torch.ones(()))

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """Float [-1, 1] or uint8 images of any size -> float [-1, 1] at INPUT_SIZE."""
        x = images.float().div(127.5).sub(1.0) if images.dtype == torch.uint8 else images.float()
        if x.shape[-1] != INPUT_SIZE or x.shape[-2] != INPUT_SIZE:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True,
                              align_corners=False)
        return x

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(features (B, 128), {attribute: logits (B, n_values)})."""
        feats = self.body(self.prepare(images))
        return feats, {a: head(feats) for a, head in self.heads.items()}


def save(net: AttributeNet, path: Path) -> None:
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"attribute_values": json.dumps(net.attribute_values)})


def load(path: Path | str = SHIPPED_WEIGHTS, device: str = "cpu") -> AttributeNet:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise GanzooError(f"evaluator weights {path} not found; train them with `ganzoo evaluator train`")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if "attribute_values" not in meta:
        raise GanzooError(f"{path} has no attribute table: not a ganzoo evaluator file")
    net = AttributeNet(json.loads(meta["attribute_values"]))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}
    net.load_state_dict(state)
    return net.to(device).eval().requires_grad_(False)


@functools.lru_cache(maxsize=4)
def _cached(path: str, device: str) -> AttributeNet:
    return load(path, device)


def shipped(device: str = "cpu") -> AttributeNet:
    return _cached(str(SHIPPED_WEIGHTS), str(device))


def unavailable_reason(ctx) -> str | None:
    """Why the attribute metrics cannot run on ``ctx``'s dataset, or None if they can."""
    split = ctx.split
    if getattr(split, "attributes", None) is None or not getattr(split, "attribute_values", None):
        return f"dataset {ctx.dataset_name!r} has no per-image attributes to check against"
    if ctx.dataset_name != "shapes":
        return f"no attribute evaluator is trained for dataset {ctx.dataset_name!r} (only shapes has one)"
    if not SHIPPED_WEIGHTS.is_file():
        return f"evaluator weights {SHIPPED_WEIGHTS.name} missing; run `ganzoo evaluator train`"
    net = shipped("cpu")
    if {a: list(v) for a, v in split.attribute_values.items()} != net.attribute_values:
        return "the split's attribute table differs from the one the shapes evaluator was trained on"
    return None


def joint_log_probs(logits: dict[str, torch.Tensor], attributes=IS_ATTRIBUTES) -> torch.Tensor:
    """log p over the product of ``attributes`` (flattened), as the product of the marginals."""
    out = None
    for a in attributes:
        lp = F.log_softmax(logits[a].float(), dim=1)
        out = lp if out is None else (out.unsqueeze(2) + lp.unsqueeze(1)).flatten(1)
    return out


# ---- torch-fidelity feature extractor ------------------------------------------------------------
def register_feature_extractor() -> str:
    """Register the evaluator with torch-fidelity once per process; returns its name."""
    from torch_fidelity import register_feature_extractor as tf_register
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    if EXTRACTOR_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        tf_register(EXTRACTOR_NAME, _extractor_class())
    return EXTRACTOR_NAME


@functools.lru_cache(maxsize=1)
def _extractor_class():
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    class ShapesEvaluatorExtractor(FeatureExtractorBase):
        """Features ``features`` (128-d, domain FID/KID/PRC) and ``logits_unbiased`` (shape x colour
        joint log-probs, domain IS) from uint8 images of any size."""

        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            self.net = load(feature_extractor_weights_path or SHIPPED_WEIGHTS)

        def forward(self, x):
            feats, logits = self.net(x)
            out = {"features": feats / self.net.feature_scale, "logits_unbiased": joint_log_probs(logits)}
            return tuple(out[f].float() for f in self.features_list)

        @staticmethod
        def get_provided_features_list():
            return "features", "logits_unbiased"

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits_unbiased", "fid": "features", "kid": "features", "prc": "features"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.uint8)

    return ShapesEvaluatorExtractor


def weights_tag(path: Path = SHIPPED_WEIGHTS) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
