"""Train-step and generation speed of every model at `cpu` and `paper` widths.

``make perf`` runs this with pytest-benchmark and saves JSON under benchmarks/results/;
compare two saved runs with ``pytest benchmarks --benchmark-compare``. Each benchmark
records images/s, the batch size, the image size and the device in ``extra_info``.
"""

from __future__ import annotations

import pytest
import torch

from ganzoo.registry import get_registry

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TEXT_DIM = {"cpu": 384, "paper": 1024}
#: (model, preset, overrides, rounds): paper-width runs are slow on a CPU, so fewer rounds
CASES = [
    ("stackgan", "cpu", {"stage": 1}, 5),
    ("stackgan", "cpu", {"stage": 2, "stage1_steps": 0}, 3),
    ("stackgan", "paper", {"stage": 1}, 3),           # Stage-I, birds widths, batch 64
    ("stackgan", "paper", {"stage": 2, "stage1_steps": 0}, 1),  # Stage-II at its reference batch
    ("gan-int-cls", "cpu", {}, 5), ("gan-int-cls", "paper", {}, 2),
    ("ebgan", "cpu", {}, 5), ("ebgan", "paper", {}, 2),
    ("vae", "cpu", {}, 5), ("vae", "paper", {}, 2),
]


def build(name, preset, overrides):
    cls = get_registry().model(name)
    config = cls.make_config(preset, overrides, name=name)
    return cls(config, text_dim=TEXT_DIM[preset], device=DEVICE)


def fake_batch(model, text_dim):
    b, s = model.batch_size, model.image_size
    g = torch.Generator().manual_seed(0)
    return {"images": (torch.rand(b, 3, s, s, generator=g) * 2 - 1).to(DEVICE),
            "text": torch.randn(b, text_dim, generator=g).to(DEVICE),
            "caption_ids": torch.arange(b, device=DEVICE)}


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _ids(case):
    name, preset, overrides, _ = case
    return f"{name}-{preset}" + "".join(f"-{k}{v}" for k, v in overrides.items() if k == "stage")


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_train_step(benchmark, case):
    name, preset, overrides, rounds = case
    model = build(name, preset, overrides)
    batch = fake_batch(model, TEXT_DIM[preset])
    model.train()

    def step():
        losses = model.train_step(batch)
        _sync()
        return losses

    losses = benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=1)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in losses.values())
    benchmark.extra_info.update(images_per_second=model.batch_size / benchmark.stats.stats.mean,
                                batch_size=model.batch_size, image_size=model.image_size, device=DEVICE,
                                threads=torch.get_num_threads())


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == "cpu"], ids=[_ids(c) for c in CASES if c[1] == "cpu"])
def test_generate(benchmark, case):
    name, preset, overrides, rounds = case
    model = build(name, preset, overrides)
    model.eval()
    text = torch.randn(64, TEXT_DIM[preset], device=DEVICE)

    @torch.no_grad()
    def gen():
        out = model.generate(text)
        _sync()
        return out

    images = benchmark.pedantic(gen, rounds=rounds, iterations=1, warmup_rounds=1)
    assert images.shape[0] == 64 and images.min() >= -1 and images.max() <= 1
    benchmark.extra_info.update(images_per_second=64 / benchmark.stats.stats.mean, device=DEVICE,
                                image_size=model.image_size)
