"""Train-step and generation speed of every model at `cpu` and `paper` widths.

``make perf`` runs this with pytest-benchmark and saves JSON under benchmarks/results/;
compare two saved runs with ``pytest benchmarks --benchmark-only --benchmark-storage=benchmarks/results
--benchmark-compare`` (or ``--benchmark-compare=NNNN``). Each benchmark records images/s,
the batch size, the image size, the device and the thread count in ``extra_info``.

Paper widths run one round each on a CPU (a birds Stage-I step at batch 64 is about 10 s
on 2 cores). StackGAN Stage-II at its reference batch (64, 256 px) takes minutes per step
on a CPU, so it runs only with ``GANZOO_PERF_FULL=1`` (always on a GPU). A stage=2 case
first trains its in-run Stage-I phase for one step (``stage1_steps=1``, not timed), so the
timed steps are Stage-II steps.
"""

from __future__ import annotations

import os

import pytest
import torch

from ganzoo.registry import get_registry

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
FULL = os.environ.get("GANZOO_PERF_FULL") == "1" or DEVICE == "cuda"
GEN_BATCH = 64
STAGE2 = {"stage": 2, "stage1_steps": 1}
#: (model, preset, overrides, rounds, full-only): paper widths are slow on a CPU, so one round.
#: stackgan's `cpu` preset is Stage-I only (32 px); `cpu-2stage` is its two-stage CPU config.
CASES = [
    ("stackgan", "cpu", {}, 5, False),
    ("stackgan", "cpu-2stage", STAGE2, 3, False),    # Stage-II, 16 -> 64 px, batch 32
    ("stackgan", "paper", {"stage": 1}, 1, False),   # Stage-I, birds widths, batch 64, 64 px
    ("stackgan", "paper", STAGE2, 1, True),          # Stage-II, batch 64, 256 px
    ("gan-int-cls", "cpu", {}, 5, False), ("gan-int-cls", "paper", {}, 1, False),
    ("ebgan", "cpu", {}, 5, False), ("ebgan", "paper", {}, 1, False),
    ("vae", "cpu", {}, 5, False), ("vae", "paper", {}, 1, False),
]


def text_dim(preset: str) -> int:
    """The paper's 1024-d char-CNN-RNN width at paper presets, MiniLM's 384 otherwise."""
    return 1024 if preset.startswith("paper") else 384


def build(name, preset, overrides):
    cls = get_registry().model(name)
    config = cls.make_config(preset, overrides, name=name)
    model = cls(config, text_dim=text_dim(preset), device=DEVICE)
    if overrides.get("stage") == 2:
        model.train_step(fake_batch(model, text_dim(preset)))  # the one in-run Stage-I step
        assert str(model.phase) in ("2", "stage2"), f"stackgan is in phase {model.phase!r}, not Stage-II"
    return model


def fake_batch(model, text_dim, batch_size=None):
    b, s = batch_size or model.batch_size, model.image_size
    g = torch.Generator().manual_seed(0)
    return {"images": (torch.rand(b, 3, s, s, generator=g) * 2 - 1).to(DEVICE),
            "text": torch.randn(b, text_dim, generator=g).to(DEVICE),
            "caption_ids": torch.arange(b, device=DEVICE)}


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _id(case):
    name, preset, overrides, _, _ = case
    return f"{name}-{preset}" + (f"-stage{overrides['stage']}" if "stage" in overrides else "")


def _params(cases):
    return [pytest.param(c, id=_id(c), marks=pytest.mark.skipif(
        c[4] and not FULL, reason="minutes per step on a CPU: set GANZOO_PERF_FULL=1")) for c in cases]


@pytest.mark.parametrize("case", _params(CASES))
def test_train_step(benchmark, case):
    name, preset, overrides, rounds, _ = case
    model = build(name, preset, overrides)
    batch = fake_batch(model, text_dim(preset))
    model.train()

    def step():
        losses = model.train_step(batch)
        _sync()
        return losses

    losses = benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=1)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in losses.values())
    benchmark.extra_info.update(images_per_second=round(model.batch_size / benchmark.stats.stats.mean, 2),
                                batch_size=model.batch_size, image_size=model.image_size, device=DEVICE,
                                threads=torch.get_num_threads(), phase=str(model.phase))


@pytest.mark.parametrize("case", _params([c for c in CASES if c[1].startswith("cpu")]))
def test_generate(benchmark, case):
    name, preset, overrides, rounds, _ = case
    model = build(name, preset, overrides)
    model.eval()
    text = torch.randn(GEN_BATCH, text_dim(preset), device=DEVICE)

    @torch.no_grad()
    def gen():
        out = model.generate(text)
        _sync()
        return out

    images = benchmark.pedantic(gen, rounds=rounds, iterations=1, warmup_rounds=1)
    assert images.shape == (GEN_BATCH, 3, model.image_size, model.image_size)
    assert images.min() >= -1 and images.max() <= 1
    benchmark.extra_info.update(images_per_second=round(GEN_BATCH / benchmark.stats.stats.mean, 1),
                                batch_size=GEN_BATCH, image_size=model.image_size, device=DEVICE,
                                threads=torch.get_num_threads())
