"""The metric contract: evaluate() orchestration, the sample stream, torch-fidelity inputs and
cache names, and the speed/memory metrics (no Inception pass here)."""

from __future__ import annotations

import pytest
import torch

from ganzoo import hookimpl
from ganzoo.data import CaptionedSplit
from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo_metrics.fidelity import RealImages, generated_images, reference_cache_name
from ganzoo.metrics import Metric, MetricResult, SampleStream, draw_captions, evaluate, to_uint8
from ganzoo.registry import register_plugin, unregister_plugin
from ganzoo_metrics.reference_models import NoiseModel, RealImageModel


@pytest.fixture(scope="module")
def split():
    from ganzoo.registry import get_registry

    return get_registry().dataset("shapes", seed=0, n_train=10, n_test=60).split("test")


class PlainSplit(CaptionedSplit):
    """A split without attributes (like a real-photo dataset)."""

    name = "test"

    def __init__(self, n=8):
        self.captions = [f"caption {i}" for i in range(2 * n)]
        self.caption_ids = torch.arange(2 * n).reshape(n, 2)

    def load_images(self, indices, image_size, train, seed=0):
        g = torch.Generator().manual_seed(len(indices))
        return torch.rand(len(indices), 3, image_size, image_size, generator=g) * 2 - 1


def test_unknown_metric_fails_before_any_work(split):
    class Exploding(RealImageModel):
        def generate(self, text, z=None):
            raise AssertionError("generation started before names were checked")

    ctx = Exploding(split, 16).context(split, num_samples=4, batch_size=2)
    with pytest.raises(UnknownNameError, match="unknown metric 'fdi'"):
        evaluate(ctx, ["sample-throughput", "fdi"])


def test_sample_stream_is_identical_on_every_pass_and_matches_captions(split):
    model = RealImageModel(split, 16)
    ctx = model.context(split, num_samples=7, batch_size=3, seed=5)
    first, second = list(SampleStream(ctx)), list(SampleStream(ctx))
    assert [len(b.images) for b in first] == [3, 3, 1]
    for a, b in zip(first, second):
        assert torch.equal(a.caption_ids, b.caption_ids) and torch.equal(a.images, b.images)
    caps = torch.cat([b.caption_ids for b in first])
    imgs = torch.cat([b.image_indices for b in first])
    assert (split.caption_ids[imgs] == caps.unsqueeze(1)).any(1).all()  # each caption belongs to its image
    other = list(SampleStream(model.context(split, num_samples=7, batch_size=3, seed=6)))
    assert not torch.equal(caps, torch.cat([b.caption_ids for b in other]))
    assert torch.equal(draw_captions(split, 7, 5)[0], caps)


def test_generated_images_feed_torch_fidelity_uint8_without_classes(split):
    model = RealImageModel(split, 16)
    ctx = model.context(split, num_samples=5, batch_size=5)
    gen = generated_images(ctx)
    from torch_fidelity import GenerativeModelBase

    assert isinstance(gen, GenerativeModelBase) and gen.num_classes == 0
    out = gen(torch.zeros(5, gen.z_size))
    assert out.dtype == torch.uint8 and out.shape == (5, 3, 16, 16)
    assert torch.equal(out, to_uint8(next(iter(SampleStream(ctx))).images))
    with pytest.raises(GanzooError):
        gen(torch.zeros(1, 1))  # the stream holds exactly num_samples


def test_real_images_and_cache_names(split):
    real = RealImages(split, 24, n=10, seed=0)
    assert len(real) == 10 and real[0].dtype == torch.uint8 and real[0].shape == (3, 24, 24)
    assert torch.equal(torch.stack(real.__getitems__([0, 1])), torch.stack([real[0], real[1]]))
    assert len(RealImages(split, 24, n=10_000)) == len(split)
    base = reference_cache_name("shapes", split, 24, 10, 0, "w")
    variants = {reference_cache_name("shapes", split, 32, 10, 0, "w"),
                reference_cache_name("shapes", split, 24, 11, 0, "w"),
                reference_cache_name("shapes", split, 24, 10, 1, "w"),
                reference_cache_name("shapes", split, 24, 10, 0, "v"),
                reference_cache_name("shapes", PlainSplit(), 24, 10, 0, "w")}
    assert base not in variants and len(variants) == 5
    assert base == reference_cache_name("shapes", split, 24, 10, 0, "w")


def test_perf_metrics(split):
    ctx = NoiseModel(16).context(split, num_samples=8, batch_size=4)
    out = evaluate(ctx, ["train-throughput", "sample-throughput", "peak-memory"])
    assert "no training statistics" in out["unavailable"]["train-throughput"]
    assert out["values"]["sample-throughput"] > 0
    assert out["values"]["peak-memory"] > 10  # MB: a Python process with torch loaded
    info = out["info"]["sample-throughput"]
    assert info["images"] == 8 and info["batch_size"] == 4 and info["device"].startswith("cpu")
    assert info["dtype"] == "float32"
    # the part each plays in a report is recorded with the results (a report needs no plugin)
    assert info["report"] == {"role": "sample-cost", "attributes": []}
    assert out["info"]["peak-memory"]["report"]["role"] == "memory-cost"

    ctx.train_stats = {"train_images_per_s": {"stage1": 90.0, "stage2": 30.0}, "peak_memory_mb": 812.0,
                       "device": "cpu", "dtype": "float32", "batch_size": 32}
    out = evaluate(ctx, ["train-throughput", "peak-memory"])
    assert out["values"]["train-throughput.stage1"] == 90.0 and out["values"]["train-throughput.stage2"] == 30.0
    assert out["values"]["peak-memory.train"] == 812.0
    assert out["info"]["train-throughput"]["batch_size"] == 32


def test_attribute_metrics_unavailable_without_attributes():
    plain = PlainSplit()
    ctx = NoiseModel(16).context(plain, dataset_name="photos", num_samples=4, batch_size=4)
    out = evaluate(ctx, ["caption-accuracy", "r-precision", "domain-fid", "domain-is"])
    assert out["values"] == {}
    assert set(out["unavailable"]) == {"caption-accuracy", "r-precision", "domain-fid", "domain-is"}
    assert all("no per-image attributes" in r for r in out["unavailable"].values())


class CountingMetric(Metric):
    """A third-party metric: mean brightness of the shared samples, reusing work via `shared`."""

    name = "toy-brightness"
    description = "Mean pixel value of generated samples"
    calls = 0

    def compute(self, ctx, shared):
        def run():
            CountingMetric.calls += 1
            return torch.cat([b.images.mean((1, 2, 3)) for b in SampleStream(ctx)])

        from ganzoo.metrics import memo

        means = memo(shared, "toy:means", run)
        return MetricResult(values={self.name: float(means.mean())}, info={"samples": ctx.sample_info()})


class CountingMetricTwin(CountingMetric):
    name = "toy-brightness-twin"

    def compute(self, ctx, shared):
        result = super().compute(ctx, shared)
        return MetricResult(values={"toy-brightness.copy": result.values[self.name]})


class Clash(Metric):
    name = "toy-clash"

    def compute(self, ctx, shared):
        return MetricResult(values={"toy-brightness": 0.0})


class ToyMetricsPlugin:
    @hookimpl
    def register_metrics(register):
        for cls in (CountingMetric, CountingMetricTwin, Clash):
            register(cls.name, cls, cls.description)


@pytest.fixture
def toy_metrics():
    register_plugin(ToyMetricsPlugin, "toy-metrics")
    yield
    unregister_plugin("toy-metrics")


def test_third_party_metric_shares_work_and_clashes_are_errors(split, toy_metrics):
    ctx = RealImageModel(split, 16).context(split, num_samples=6, batch_size=3)
    CountingMetric.calls = 0
    out = evaluate(ctx, ["toy-brightness", "toy-brightness-twin"])
    assert CountingMetric.calls == 1  # the second metric reused the first one's pass
    assert out["values"]["toy-brightness"] == out["values"]["toy-brightness.copy"]
    assert out["info"]["toy-brightness"]["samples"]["num_samples"] == 6
    with pytest.raises(GanzooError, match="already reported"):
        evaluate(ctx, ["toy-brightness", "toy-clash"])
