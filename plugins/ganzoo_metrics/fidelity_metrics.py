"""Image-quality metrics through torch-fidelity: IS, FID, KID, precision/recall, and their
domain variants computed with the shapes attribute evaluator instead of Inception.

``is``, ``fid`` and ``kid`` asked for in one :func:`ganzoo.metrics.evaluate` call share one
:func:`ganzoo_metrics.fidelity.run_fidelity` call (one generation pass, one Inception pass); so do the
``domain-*`` metrics. FID and domain FID both come from :func:`ganzoo_metrics.fidelity.frechet_distance`
on torch-fidelity's features; every result's info names its weights file and its sha256. ``prc`` runs in its own call: torch-fidelity's default PRC extractor (VGG16)
differs from the others, and mixing them in one call silently runs a second pass.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ganzoo_metrics import fidelity as fd
from ganzoo.metrics import Metric, MetricResult, memo

VGG16_FILE = "vgg16-397923af.pth"  # torchvision's download name (torch hub checkpoints)
_INCEPTION_GROUP = ("is", "fid", "kid")
_DOMAIN_GROUP = ("domain-is", "domain-fid", "domain-kid")


def _values(name: str, result: dict) -> dict[str, float]:
    """ganzoo value names from torch-fidelity result keys."""
    base = name.removeprefix("domain-")
    prefix = "domain-" if name.startswith("domain-") else ""
    if base == "is":
        return {f"{prefix}is": result[fd.KEY_IS], f"{prefix}is.std": result[fd.KEY_IS_STD]}
    if base == "fid":
        return {f"{prefix}fid": result[fd.KEY_FID]}
    if base == "kid":
        return {f"{prefix}kid": result[fd.KEY_KID], f"{prefix}kid.std": result[fd.KEY_KID_STD]}
    raise KeyError(name)


def _group_call(ctx, shared, name: str, group: tuple[str, ...], key: str, run) -> MetricResult:
    """Run ``run(wanted)`` once for every metric of ``group`` requested together with ``name``."""
    wanted = tuple(m for m in group if m in shared.get("requested", set()) | {name})
    cached = shared.get(key)
    if cached is None or name not in cached[0]:
        cached = shared[key] = (wanted, *run(wanted))
    _, result, info = cached
    return MetricResult(values=_values(name, result), info=dict(info, computed_together=list(cached[0])))


class _InceptionMetric(Metric):
    def compute(self, ctx, shared):
        weights = memo(shared, "fidelity:inception-weights", lambda: fd.resolve_inception_weights(ctx))
        if isinstance(weights, str):
            return MetricResult(unavailable={self.name: weights})
        if self.name == "is" and not weights.has_classifier:
            return MetricResult(unavailable={"is": fd.NO_CLASSIFIER},
                                info={"weights": str(weights.path), "weights_source": weights.source})
        group = tuple(m for m in _INCEPTION_GROUP if m != "is" or weights.has_classifier)

        def run(wanted):
            return fd.run_fidelity(ctx, isc="is" in wanted, fid="fid" in wanted, kid="kid" in wanted,
                                   feature_extractor=fd.INCEPTION_EXTRACTOR, weights_path=weights.path,
                                   tag=weights.tag)

        result = _group_call(ctx, shared, self.name, group, "fidelity:inception", run)
        result.info.update(weights.info())
        return result


class InceptionScore(_InceptionMetric):
    name = "is"
    description = "Inception Score of generated samples (torch-fidelity; needs the Inception classifier weights)"


class FID(_InceptionMetric):
    name = "fid"
    description = "Frechet Inception Distance to the split's real images (torch-fidelity, pool3)"


class KID(_InceptionMetric):
    name = "kid"
    description = "Kernel Inception Distance to the split's real images (torch-fidelity, pool3)"


class PrecisionRecall(Metric):
    name = "prc"
    description = "Precision, recall and F-score of generated vs real images (torch-fidelity, k=3)"

    def compute(self, ctx, shared):
        vgg = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
        if vgg.is_file():
            extractor, path, tag, source = "vgg16", vgg, "torchvision-vgg16", "VGG16 fc2 (torchvision download)"
            _check_tensor_only(vgg)
        else:
            weights = memo(shared, "fidelity:inception-weights", lambda: fd.resolve_inception_weights(ctx))
            if isinstance(weights, str):
                return MetricResult(unavailable={"prc": weights})
            extractor, path, tag = fd.INCEPTION_EXTRACTOR, weights.path, weights.tag
            source = (f"Inception pool3 ({weights.source}); VGG16 weights, torch-fidelity's default "
                      f"for PRC, are not available offline")
        result, info = fd.run_fidelity(ctx, prc=True, feature_extractor=extractor, weights_path=path, tag=tag)
        info.update(features=source, neighbourhood=3, weights=str(path))
        return MetricResult(values={"prc.precision": result[fd.KEY_PRECISION], "prc.recall": result[fd.KEY_RECALL],
                                    "prc.f_score": result[fd.KEY_F_SCORE]}, info=info)


def _check_tensor_only(path: Path) -> None:
    from ganzoo.errors import UsageError

    try:
        torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"{path} is not a tensor-only state dict: {type(exc).__name__}") from None


class _DomainMetric(Metric):
    def compute(self, ctx, shared):
        from ganzoo_metrics import evaluator

        reason = evaluator.unavailable_reason(ctx)
        if reason:
            return MetricResult(unavailable={self.name: reason})
        name = evaluator.register_feature_extractor()

        def run(wanted):
            return fd.run_fidelity(ctx, isc="domain-is" in wanted, fid="domain-fid" in wanted,
                                   kid="domain-kid" in wanted, feature_extractor=name,
                                   weights_path=evaluator.SHIPPED_WEIGHTS, tag=evaluator.weights_tag())

        result = _group_call(ctx, shared, self.name, _DOMAIN_GROUP, "fidelity:domain", run)
        result.info.update(weights=str(evaluator.SHIPPED_WEIGHTS),
                           weights_sha256=fd.file_sha256(evaluator.SHIPPED_WEIGHTS),
                           features="shapes evaluator: 128-d penultimate (FID/KID), shape x colour joint (IS)")
        return result


class DomainIS(_DomainMetric):
    name = "domain-is"
    description = "Inception Score over the shapes evaluator's shape x colour predictions (max 40, and <= samples per split)"


class DomainFID(_DomainMetric):
    name = "domain-fid"
    description = "FID in the shapes evaluator's 128-d feature space"


class DomainKID(_DomainMetric):
    name = "domain-kid"
    description = "KID in the shapes evaluator's 128-d feature space"


METRICS = (InceptionScore, FID, KID, PrecisionRecall, DomainIS, DomainFID, DomainKID)
