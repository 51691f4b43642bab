"""The metric contract: what a metric sees (:class:`EvalContext`), returns (:class:`MetricResult`),
and how :func:`evaluate` runs several of them over one shared set of samples.

Writing a metric plugin (e.g. a CLIP score) needs no change to ganzoo itself::

    # my_plugin/__init__.py, declared under [project.entry-points.ganzoo]
    from ganzoo import hookimpl
    from ganzoo.metrics import Metric, MetricResult, SampleStream

    class ClipScore(Metric):
        name = "clip-score"
        description = "Mean CLIP image-text cosine similarity of generated samples"

        def compute(self, ctx, shared):
            scores = []
            for batch in SampleStream(ctx):          # the same samples every metric sees
                texts = [ctx.split.captions[i] for i in batch.caption_ids.tolist()]
                scores.append(my_clip_similarity(batch.images, texts))
            return MetricResult(values={"clip-score": float(torch.cat(scores).mean())},
                                info={"samples": ctx.sample_info()})

    @hookimpl
    def register_metrics(register):
        register("clip-score", ClipScore, ClipScore.description)

Conventions:

* Value names are ``<metric>`` or ``<metric>.<part>`` (``fid``, ``kid.std``,
  ``caption-accuracy.shape``); a metric that cannot be computed puts each value name it
  would have produced (or just its own name) in ``unavailable`` with a one-line reason,
  and never reports a placeholder number.
* Samples: :class:`SampleStream` draws captions (image index, then one of its captions)
  and latent vectors from generators seeded by ``ctx.seed``, so every metric and every
  pass sees exactly the same (caption, image) pairs without storing the images.
* ``shared`` is a dict that lives for one :func:`evaluate` call, so metrics can reuse
  expensive work: ``shared["requested"]`` is the set of metric names asked for (one
  torch-fidelity call can serve ``is``, ``fid`` and ``kid``); :func:`memo` computes a
  keyed value once (keys are namespaced by the module that owns them, e.g.
  ``"fidelity:inception"``, ``"evaluator:scores"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from ganzoo.errors import GanzooError


@dataclass
class EvalContext:
    """Everything a metric may use. ``embeddings`` holds the model's conditioning vector of
    every caption of ``split`` (already standardised), indexed like ``split.captions``.
    Condition the model through :meth:`condition`, never by indexing ``embeddings``
    directly: a word-level model also needs the captions' words."""

    model: Any
    split: Any
    embeddings: torch.Tensor
    dataset_name: str
    num_samples: int = 500
    batch_size: int = 50
    seed: int = 0
    device: str = "cpu"
    cache_dir: Path | None = None
    inception_weights: Path | None = None
    train_stats: dict = field(default_factory=dict)

    def resolved_cache_dir(self) -> Path:
        from ganzoo.text import default_cache_dir

        return Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()

    def condition(self, caption_ids: torch.Tensor | list[int]):
        """The model's ``text`` argument for these captions of ``split`` (on the model's device):
        their embeddings, or a :class:`ganzoo.conditioning.Conditioning` for a word-level model."""
        from ganzoo.conditioning import condition

        ids = torch.as_tensor(caption_ids, dtype=torch.long).reshape(-1)
        device = getattr(self.model, "device", None) or "cpu"
        return condition(self.model, self.embeddings[ids].to(device), [self.split.captions[i] for i in ids.tolist()])

    def sample_info(self) -> dict:
        """How the generated samples were drawn (recorded with every sample-based figure)."""
        return {"num_samples": int(self.num_samples), "batch_size": int(self.batch_size), "seed": int(self.seed),
                "dataset": self.dataset_name, "split": getattr(self.split, "name", "?")}


@dataclass
class MetricResult:
    values: dict[str, float] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # value name -> reason
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Presentation:
    """How a report shows one value a metric produces (declared by the metric, recorded with its results).

    ``title`` is the column header, ``higher_is_better`` gives the arrow (None: no arrow),
    ``meaning`` is the one-line legend entry, ``headline`` puts the value in the leaderboard
    (otherwise it is listed in the appendix only).
    """

    title: str
    higher_is_better: bool | None = None
    meaning: str = ""
    headline: bool = False

    def to_json(self) -> dict:
        return {"title": self.title, "higher_is_better": self.higher_is_better, "meaning": self.meaning,
                "headline": self.headline}


#: The parts a metric may play in a report (``Metric.role``), beyond its declared columns.
ROLE_TRAIN_COST = "train-cost"    # values ``<metric>.<phase>``: training images/s per training phase
ROLE_SAMPLE_COST = "sample-cost"  # value ``<metric>``: generated images/s
ROLE_MEMORY_COST = "memory-cost"  # value ``<metric>``: peak memory in MB
#: values ``<metric>.<attribute>`` (share of samples whose attribute matches the caption), each with
#: ``<metric>.<attribute>.chance``; ``Metric.attributes`` gives their order in the report
ROLE_ATTRIBUTE_ACCURACY = "attribute-accuracy"
ROLES = (ROLE_TRAIN_COST, ROLE_SAMPLE_COST, ROLE_MEMORY_COST, ROLE_ATTRIBUTE_ACCURACY)


class Metric:
    """A named measurement of a trained model; subclasses implement :meth:`compute`.

    ``presentation`` maps value names this metric produces to their :class:`Presentation`;
    values without one are listed in the report's appendix under their recorded name.
    ``cheap`` marks a metric fast enough to measure at checkpoints during training
    (``ganzoo bench --eval-every``) on a few hundred samples. ``role`` (one of :data:`ROLES`)
    gives the metric a part in the report: the cost columns, or the per-attribute accuracy
    section (in the order of ``attributes``). Both are recorded with the results.
    """

    name: str = "metric"
    description: str = ""
    presentation: dict[str, Presentation] = {}
    cheap: bool = False
    role: str | None = None
    attributes: tuple[str, ...] = ()

    def compute(self, ctx: EvalContext, shared: dict) -> MetricResult:
        raise NotImplementedError


def memo(shared: dict, key: str, compute: Callable[[], Any]) -> Any:
    """``shared[key]``, computing it on first use (within one :func:`evaluate` call)."""
    if key not in shared:
        shared[key] = compute()
    return shared[key]


# ---- samples --------------------------------------------------------------------------
@dataclass
class SampleBatch:
    caption_ids: torch.Tensor    # (B,) indices into split.captions
    image_indices: torch.Tensor  # (B,) the split image each caption was drawn from
    images: torch.Tensor         # (B, 3, S, S) float in [-1, 1], on the model's device


def draw_captions(split, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(caption ids, image indices) of ``n`` samples: a uniform image, then one of its captions."""
    g = torch.Generator().manual_seed(int(seed))
    images = torch.randint(len(split), (n,), generator=g)
    slots = torch.randint(split.caption_ids.shape[1], (n,), generator=g)
    return split.caption_ids[images, slots].long(), images


class SampleStream:
    """The generated samples of ``ctx``, batch by batch, identical on every pass.

    Captions come from :func:`draw_captions` (seed ``ctx.seed``); latents from
    ``model.sample_z`` with a generator seeded by ``ctx.seed + 1``. :meth:`next` serves
    callers that choose their own batch sizes (torch-fidelity)."""

    def __init__(self, ctx: EvalContext, num_samples: int | None = None):
        self.ctx = ctx
        self.total = int(ctx.num_samples if num_samples is None else num_samples)
        self.caption_ids, self.image_indices = draw_captions(ctx.split, self.total, ctx.seed)
        self.z_generator = torch.Generator().manual_seed(int(ctx.seed) + 1)
        self.cursor = 0

    def __len__(self) -> int:
        return self.total

    @torch.no_grad()
    def next(self, n: int) -> SampleBatch:
        if self.cursor + n > self.total:
            raise GanzooError(f"asked for samples {self.cursor}..{self.cursor + n} of only {self.total}")
        sl = slice(self.cursor, self.cursor + n)
        self.cursor += n
        cap = self.caption_ids[sl]
        z = self.ctx.model.sample_z(n, generator=self.z_generator)
        text = self.ctx.condition(cap)
        images = self.ctx.model.generate(text, z)
        return SampleBatch(cap, self.image_indices[sl], images)

    def __iter__(self) -> Iterator[SampleBatch]:
        while self.cursor < self.total:
            yield self.next(min(self.ctx.batch_size, self.total - self.cursor))


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats to uint8 0..255, rounded as when saving a PNG."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)


# ---- orchestration ----------------------------------------------------------------------
def evaluate(ctx: EvalContext, metric_names: list[str]) -> dict:
    """Run the named metrics; returns ``{"values", "unavailable", "info"}``.

    All names are resolved before any work (an unknown name raises
    :class:`ganzoo.errors.UnknownNameError`); ``info`` has one entry per metric.
    """
    from ganzoo.registry import get_registry

    registry = get_registry()
    metrics = [registry.metric(name) for name in dict.fromkeys(metric_names)]
    ctx.model.eval()
    shared: dict = {"requested": set(dict.fromkeys(metric_names))}
    out: dict = {"values": {}, "unavailable": {}, "info": {}}
    for order, (name, metric) in enumerate(zip(dict.fromkeys(metric_names), metrics)):
        result = metric.compute(ctx, shared)
        for key in list(result.values) + list(result.unavailable):
            if key in out["values"] or key in out["unavailable"]:
                raise GanzooError(f"metric {name!r} reports {key!r}, which another metric already reported")
        out["values"].update({k: float(v) for k, v in result.values.items()})
        out["unavailable"].update(result.unavailable)
        out["info"][name] = dict(result.info)
        shown = {k: v for k, v in presentation_json(metric, order).items() if k in result.values}
        if shown:  # recorded with the results, so a report needs no plugin installed to show them
            out["info"][name]["presentation"] = shown
        if getattr(metric, "role", None):
            out["info"][name]["report"] = report_role_json(metric)
    return out


def report_role_json(metric: Any) -> dict:
    """A metric's part in the report (``role``, ``attributes``) as recorded in its ``metric_info``."""
    return {"role": metric.role, "attributes": list(getattr(metric, "attributes", ()) or ())}


def presentation_json(metric: Any, order: int = 0) -> dict[str, dict]:
    """A metric's declared presentation as JSON: value name -> fields, plus its place in the request."""
    declared = getattr(metric, "presentation", None) or {}
    return {value: {**(p.to_json() if isinstance(p, Presentation) else dict(p)), "order": order * 100 + i}
            for i, (value, p) in enumerate(declared.items())}


def cheap_metrics(metric_names: list[str]) -> list[str]:
    """The names among ``metric_names`` whose metric declares itself cheap (measured during training)."""
    from ganzoo.registry import get_registry

    registry = get_registry()
    return [n for n in dict.fromkeys(metric_names) if getattr(registry.get("metric", n).obj, "cheap", False)]
