"""Measures the CA ablation needs, read through the shapes evaluator's 128-d features.

* ``diversity``: for each of ``N_CAPTIONS`` test captions (seeded draw), ``N_Z`` samples
  with different z; the spread is the mean pairwise L2 distance of their evaluator
  features (divided by the evaluator's feature scale). Reported: the mean over captions.
  Conditioning Augmentation is meant to raise it (less mode collapse per caption);
  0 means every z gives the same image. ``diversity.real`` is the same spread over real
  test images of one attribute combination, where the split has several, as a yardstick.
* ``smoothness``: for ``N_PAIRS`` caption pairs, ``N_STEPS`` images along the straight
  line between the two conditioning vectors (same z, same CA noise at every step). With
  step distances d_t between consecutive images' features, smoothness is
  sum(d) / ((N_STEPS - 1) * max(d)): 1 when the image changes evenly along the path,
  1 / (N_STEPS - 1) when all the change happens in one jump. Reported: the mean over pairs.
  Unavailable for word-level models (``conditioning = "words"``): a sequence of words has
  no straight line to another.
"""

from __future__ import annotations

import torch

from ganzoo.metrics import Metric, MetricResult

N_CAPTIONS, N_Z = 24, 12
N_PAIRS, N_STEPS = 16, 9


def _features(ctx, images: torch.Tensor) -> torch.Tensor:
    from ganzoo_metrics import evaluator

    net = evaluator.shipped(str(ctx.device))
    feats, _ = net(images.to(ctx.device))
    return (feats / net.feature_scale).float().cpu()


def _mean_pairwise(f: torch.Tensor) -> float:
    d = torch.cdist(f, f)
    n = f.shape[0]
    return float(d.sum() / (n * (n - 1)))


class Diversity(Metric):
    name = "diversity"
    description = "Per-caption spread of evaluator features over z (mode collapse shows as ~0)"

    @torch.no_grad()
    def compute(self, ctx, shared):
        from ganzoo_metrics import evaluator

        reason = evaluator.unavailable_reason(ctx)
        if reason:
            return MetricResult(unavailable={self.name: reason})
        g = torch.Generator().manual_seed(int(ctx.seed) + 17)
        images = torch.randperm(len(ctx.split), generator=g)[:N_CAPTIONS]
        caps = ctx.split.caption_ids[images, 0].long()
        z = ctx.model.sample_z(N_Z, generator=g)
        spreads = []
        for c in caps.tolist():
            torch.manual_seed(int(ctx.seed) + c)
            text = ctx.condition([c] * N_Z)
            spreads.append(_mean_pairwise(_features(ctx, ctx.model.generate(text, z))))
        values = {self.name: sum(spreads) / len(spreads)}
        real = self._real_spread(ctx)
        if real is not None:
            values[f"{self.name}.real"] = real
        info = {"captions": N_CAPTIONS, "samples_per_caption": N_Z, "features": "shapes evaluator (128-d, scaled)",
                "seed": int(ctx.seed), "split": ctx.split.name}
        return MetricResult(values=values, info=info)

    @staticmethod
    def _real_spread(ctx) -> float | None:
        attrs = ctx.split.attributes
        key = torch.stack([v.long() for v in attrs.values()], 1)
        _, inverse, counts = torch.unique(key, dim=0, return_inverse=True, return_counts=True)
        groups = [torch.nonzero(inverse == i).flatten() for i in torch.nonzero(counts >= 2).flatten()[:N_CAPTIONS]]
        if not groups:
            return None
        spreads = []
        for idx in groups:
            imgs = ctx.split.load_images(idx.tolist(), ctx.model.image_size, False, 0)
            spreads.append(_mean_pairwise(_features(ctx, imgs)))
        return sum(spreads) / len(spreads)


class Smoothness(Metric):
    name = "smoothness"
    description = "Evenness of image change along caption-to-caption interpolations (1 = even)"

    @torch.no_grad()
    def compute(self, ctx, shared):
        from ganzoo_metrics import evaluator

        from ganzoo.conditioning import wants_words

        reason = evaluator.unavailable_reason(ctx)
        if reason:
            return MetricResult(unavailable={self.name: reason})
        if wants_words(ctx.model):
            return MetricResult(unavailable={self.name: "the model reads the captions' words: there is no straight "
                                                        "line between two captions' conditionings"})
        g = torch.Generator().manual_seed(int(ctx.seed) + 29)
        n = len(ctx.split)
        a = ctx.split.caption_ids[torch.randint(n, (N_PAIRS,), generator=g), 0].long()
        b = ctx.split.caption_ids[torch.randint(n, (N_PAIRS,), generator=g), 0].long()
        z = ctx.model.sample_z(N_PAIRS, generator=g)
        ta, tb = ctx.embeddings[a].to(ctx.model.device), ctx.embeddings[b].to(ctx.model.device)
        feats = []
        for t in torch.linspace(0, 1, N_STEPS).tolist():
            torch.manual_seed(int(ctx.seed) + 31)  # the same CA noise at every step of the path
            feats.append(_features(ctx, ctx.model.generate((1 - t) * ta + t * tb, z)))
        f = torch.stack(feats, 1)  # (pairs, steps, d)
        steps = (f[:, 1:] - f[:, :-1]).norm(dim=-1)
        score = steps.sum(1) / ((N_STEPS - 1) * steps.max(1).values.clamp_min(1e-12))
        return MetricResult(values={self.name: float(score.mean())},
                            info={"pairs": N_PAIRS, "steps": N_STEPS, "seed": int(ctx.seed),
                                  "features": "shapes evaluator (128-d, scaled)"})


METRICS = (Diversity, Smoothness)
