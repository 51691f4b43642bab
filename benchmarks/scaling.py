"""StackGAN training cost against the work: Stage-I train images/s vs batch size and image size.

    .venv/bin/python benchmarks/scaling.py --out reports/perf [--preset paper] [--device auto]
        [--batches 8,16,32,64] [--sizes 16,32,64] [--rounds 3] [--threads N]

Two sweeps of the ``stackgan`` Stage-I train step (``stage=1``) at one preset's widths:
batch size at the preset's image size, and image size at the largest batch. Every
configuration gets its own model and a synthetic batch; after one warm-up step each,
the configurations are timed round-robin (one step each per round), so background load
drifts onto all of them alike; the median step time of each gives images/s. Writes
``scaling.json`` (figures, machine, thread count, load averages) and ``scaling.png``
(matplotlib) into ``--out``. The device is a GPU when one is available (``--device auto``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

TEXT_DIM = 1024


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def make_step(preset: str, batch: int, size: int, device: str):
    from ganzoo.registry import get_registry

    cls = get_registry().model("stackgan")
    config = cls.make_config(preset, {"stage": 1, "batch_size": batch, "image_size": size}, name="stackgan")
    model = cls(config, text_dim=TEXT_DIM, device=device)
    model.train()
    g = torch.Generator().manual_seed(0)
    data = {"images": (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).to(device),
            "text": torch.randn(batch, TEXT_DIM, generator=g).to(device),
            "caption_ids": torch.arange(batch, device=device)}

    def step() -> float:
        t = time.perf_counter()
        losses = model.train_step(data)
        _sync(device)
        elapsed = time.perf_counter() - t
        if not torch.isfinite(losses["d_loss"]):
            raise RuntimeError(f"non-finite D loss at batch {batch}, size {size}")
        return elapsed

    return step


def measure(configs: list[tuple[int, int]], preset: str, device: str, rounds: int) -> dict:
    steps = {}
    for batch, size in configs:
        steps[(batch, size)] = make_step(preset, batch, size, device)
        steps[(batch, size)]()  # warm-up
    times: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    for r in range(rounds):
        for c in configs:
            times[c].append(steps[c]())
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"b{b}/{s}px {times[(b, s)][-1]:.2f}s" for b, s in configs),
              flush=True)
    return {c: {"batch_size": c[0], "image_size": c[1], "step_s": [round(t, 4) for t in ts],
                "median_step_s": round(statistics.median(ts), 4),
                "images_per_s": round(c[0] / statistics.median(ts), 2)} for c, ts in times.items()}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, fixed, label in ((axes[0], "batch_sweep", "image_size", "batch size"),
                                  (axes[1], "size_sweep", "batch_size", "Stage-I image size (px)")):
        rows = result[key]
        xs = [r["batch_size" if key == "batch_sweep" else "image_size"] for r in rows]
        ax.plot(xs, [r["images_per_s"] for r in rows], "o-")
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel(label)
        ax.set_ylabel("train images/s")
        ax.set_title(f"at {fixed.replace('_', ' ')} {rows[0][fixed]}")
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    m = result["machine"]
    fig.suptitle(f"stackgan Stage-I train step, {result['preset']} widths, {m['device_name']}, "
                 f"{m['threads']} threads (load {m['loadavg_start'][0]:.1f}->{m['loadavg_end'][0]:.1f})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("reports/perf"))
    ap.add_argument("--preset", default="paper", help="stackgan preset giving the widths (default: paper, birds)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batches", default="8,16,32,64")
    ap.add_argument("--sizes", default="16,32,64")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    from ganzoo.env import resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = [int(x) for x in args.batches.split(",")]
    sizes = [int(x) for x in args.sizes.split(",")]
    default_size = 64
    top = max(batches)
    configs = list(dict.fromkeys([(b, default_size) for b in batches] + [(top, s) for s in sizes]))
    load_start = os.getloadavg()
    started = time.time()
    figures = measure(configs, args.preset, device, args.rounds)
    result = {
        "command": "python benchmarks/scaling.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
        "preset": args.preset, "stage": 1, "rounds": args.rounds,
        "batch_sweep": [figures[(b, default_size)] for b in batches],
        "size_sweep": [figures[(top, s)] for s in sizes],
        "machine": {"device": device, "device_name": torch.cuda.get_device_name() if device.startswith("cuda")
                    else _cpu_name(), "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                    "torch": torch.__version__, "loadavg_start": [round(x, 2) for x in load_start],
                    "loadavg_end": [round(x, 2) for x in os.getloadavg()],
                    "wall_s": round(time.time() - started, 1)},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result, args.out / "scaling.png")
    print(f"wrote {args.out / 'scaling.json'} and {args.out / 'scaling.png'}")


if __name__ == "__main__":
    main()
