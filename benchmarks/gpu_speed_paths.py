"""GPU speed paths of the training harness on StackGAN Stage-I at paper widths (issue 7).

Measures train images/s for plain fp32 and for each switch of ``ganzoo.speed`` (bf16
autocast, channels_last, torch.compile, cuDNN benchmark, TF32, and all together) on a
synthetic batch of the birds Stage-I shape (batch 64, 64x64, 1024-d text), after warm-up,
with ``torch.cuda.synchronize`` around the timed steps. Writes JSON and a Markdown table.

    python benchmarks/gpu_speed_paths.py --out reports/gpu-speed-paths

Needs a CUDA GPU (exits with a message otherwise). Each configuration builds a fresh model
from the same seed so that the runs do the same work.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ganzoo.env import environment
from ganzoo.registry import get_registry
from ganzoo.speed import SpeedOptions, apply_global, autocast, prepare_batch, prepare_model

CONFIGS = {
    "fp32": {},
    "tf32": {"tf32": True},
    "cudnn_benchmark": {"cudnn_benchmark": True},
    "channels_last": {"channels_last": True},
    "bf16": {"amp": "bf16"},
    "compile": {"compile": True},
    "all": {"amp": "bf16", "channels_last": True, "compile": True, "cudnn_benchmark": True, "tf32": True},
}


def measure(name: str, options: dict, steps: int, warmup: int) -> dict:
    opts = SpeedOptions(**options)
    apply_global(opts)
    torch.manual_seed(0)
    cls = get_registry().model("stackgan")
    model = cls(cls.make_config("paper", {"stage": 1}, name="stackgan"), text_dim=1024, device="cuda")
    prepare_model(model, opts)
    b = model.batch_size
    batch = prepare_batch({"images": torch.rand(b, 3, 64, 64, device="cuda") * 2 - 1,
                           "text": torch.randn(b, 1024, device="cuda"),
                           "caption_ids": torch.arange(b, device="cuda")}, opts)
    model.train()
    for _ in range(warmup):
        with autocast(opts, model.device):
            model.train_step(batch)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        with autocast(opts, model.device):
            losses = model.train_step(batch)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    finite = all(torch.isfinite(torch.as_tensor(v)).all().item() for v in losses.values())
    return {"config": name, "speed": opts.label(), "images_per_s": steps * b / elapsed, "batch_size": b,
            "steps": steps, "finite_losses": finite}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/gpu-speed-paths"))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated subset of " + ",".join(CONFIGS))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA GPU available: this script measures GPU speed paths only")
    names = [n for n in (args.only.split(",") if args.only else CONFIGS) if n]
    rows = []
    for name in names:
        rows.append(measure(name, CONFIGS[name], args.steps, args.warmup))
        print(json.dumps(rows[-1]), flush=True)
    base = next((r["images_per_s"] for r in rows if r["config"] == "fp32"), None)
    args.out.mkdir(parents=True, exist_ok=True)
    env = environment("cuda")
    (args.out / "speed_paths.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=1))
    lines = ["# GPU speed paths: StackGAN Stage-I, paper birds widths, batch 64", "",
             f"Command: `python benchmarks/gpu_speed_paths.py --out {args.out} --steps {args.steps}`", "",
             f"Device: {env['device_name']}; torch {env['versions']['torch']}; git {env['git_rev']}", "",
             "| config | switches | images/s | vs fp32 | finite losses |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['images_per_s'] / base:.2f}x" if base else "-"
        lines.append(f"| {r['config']} | {r['speed']} | {r['images_per_s']:.1f} | {ratio} | {r['finite_losses']} |")
    (args.out / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
