"""Training and measuring the shapes attribute evaluator (run by ``ganzoo evaluator train``).

Training images are rendered fresh at every step (nothing from the dataset's splits):
attributes uniform over all 2,160 combinations, including the (shape, colour) pairs the
``shapes`` train split holds out, since the evaluator is the measuring instrument and
must read those pairs too; jitter as in the dataset; one resolution per batch drawn from
:data:`TRAIN_SIZES` and resized to the evaluator's input size; mild Gaussian pixel noise.
Accuracy is then measured on the real ``shapes`` test split (dataset seed 0) at several
resolutions.
"""

from __future__ import annotations

import functools
import math
import time

import torch
import torch.nn.functional as F

from ganzoo_metrics.evaluator import AttributeNet

TRAIN_SIZES = (16, 24, 32, 48, 64, 96, 128)
EVAL_SIZES = (16, 32, 64, 128)
LEARNING_RATE = 2e-3  # Adam, cosine decay to 0
NOISE_MAX = 0.1  # per-image Gaussian noise std, uniform in [0, NOISE_MAX] (images in [-1, 1])


@functools.lru_cache(maxsize=1)
def shapes():
    """The ``shapes`` dataset plugin, through the registry: its attribute table and renderer."""
    from ganzoo.registry import get_registry

    return get_registry().dataset("shapes", n_train=1, n_test=2, n_val=2)  # small: only its tables are used


def random_batch(n: int, size: int, g: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Rendered float images in [-1, 1] at ``size`` with uniformly drawn attributes."""
    data = shapes()
    attrs = {a: torch.randint(len(v), (n,), generator=g) for a, v in data.attribute_values.items()}
    jitter = (torch.rand(n, 3, generator=g) * 2 - 1) * torch.tensor(data.jitter_scale)
    images = data.render(attrs, size, jitter).float().div_(127.5).sub_(1.0)
    sigma = torch.rand(n, 1, 1, 1, generator=g) * NOISE_MAX
    images = (images + sigma * torch.randn(images.shape, generator=g)).clamp_(-1, 1)
    return images, attrs


def train(steps: int, seed: int = 0, batch_size: int = 64, lr: float = LEARNING_RATE, log=None) -> AttributeNet:
    data = shapes()  # built before seeding: nothing below depends on whether it was cached
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = AttributeNet(data.attribute_values)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    net.train()
    for step in range(steps):
        size = TRAIN_SIZES[int(torch.randint(len(TRAIN_SIZES), (1,), generator=g))]
        images, attrs = random_batch(batch_size, size, g)
        _, logits = net(images)
        loss = sum(F.cross_entropy(logits[a], attrs[a]) for a in logits)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step % 100 == 0 or step == steps - 1):
            log(f"step {step:5d}/{steps}  size {size:3d}  loss {loss.detach().item():.4f}")
    net.eval().requires_grad_(False)
    set_feature_scale(net, seed)
    return net


@torch.no_grad()
def set_feature_scale(net: AttributeNet, seed: int, n: int = 512) -> None:
    """Store the RMS of the features over ``n`` fresh renders at the evaluator's input size."""
    images, _ = random_batch(n, net_input_size(), torch.Generator().manual_seed(seed + 1))
    feats, _ = net(images)
    net.feature_scale.fill_(float(feats.pow(2).mean().sqrt().clamp_min(1e-6)))


def net_input_size() -> int:
    from ganzoo_metrics.evaluator import INPUT_SIZE

    return INPUT_SIZE


@torch.no_grad()
def predict(net: AttributeNet, images: torch.Tensor, batch_size: int = 500) -> dict[str, torch.Tensor]:
    """Predicted value index per attribute for float [-1, 1] or uint8 images."""
    out: dict[str, list[torch.Tensor]] = {a: [] for a in net.attribute_values}
    for start in range(0, len(images), batch_size):
        _, logits = net(images[start:start + batch_size])
        for a, lg in logits.items():
            out[a].append(lg.argmax(1))
    return {a: torch.cat(v) for a, v in out.items()}


def accuracy(net: AttributeNet, split, size: int, limit: int | None = None) -> dict[str, float]:
    """Per-attribute and exact-match accuracy on the real images of ``split`` (the first ``limit``)."""
    n = min(len(split), limit or len(split))
    images = split.load_images(range(n), size, train=False)
    pred = predict(net, images)
    correct = {a: pred[a] == split.attributes[a][:n] for a in pred}
    out = {a: float(c.float().mean()) for a, c in correct.items()}
    out["exact"] = float(torch.stack(list(correct.values())).all(0).float().mean())
    return out


def measure(net: AttributeNet, split, sizes=EVAL_SIZES, limit: int | None = None) -> dict[str, dict[str, float]]:
    return {f"{s}px": accuracy(net, split, s, limit) for s in sizes}


def timed_train(steps: int, seed: int, batch_size: int, log=None) -> tuple[AttributeNet, float]:
    start = time.perf_counter()
    net = train(steps, seed, batch_size, log=log)
    return net, time.perf_counter() - start
