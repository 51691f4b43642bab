"""Side by side in one process: ganzoo's StackGAN Stage-I train step vs the reference's.

Birds widths (gf_dim 128, df_dim 64, c_dim 128, z 100), batch 64, 64 px, 1024-d text,
a synthetic batch, fp32 eager, CPU. Rounds alternate A B A B so that background load falls on
both alike; images/s = batch / median step time; the ratio is also given per round. The
process CPU time of each step is recorded too: with ``--threads 1`` on a machine that other
jobs keep busy it is a steadier measure of the work than wall time (it leaves out the time
the process waits for a core).

    .venv/bin/python benchmarks/stage1_vs_reference.py PATH/TO/StackGAN-Pytorch --rounds 5 --json OUT.json
    .venv/bin/python benchmarks/stage1_vs_reference.py PATH --profile   # torch.profiler table of one step each

Get the reference with ``git clone https://github.com/hanzhanggit/StackGAN-Pytorch``
(nothing of it is committed here; see benchmarks/reference_stackgan.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_stackgan  # noqa: E402  (this folder is not a package)

BATCH, SIZE = 64, 64


def ganzoo_stage1():
    """``stackgan`` at the ``paper`` preset, Stage-I only, with a step(images, text) like the reference's."""
    from ganzoo.registry import get_registry

    cls = get_registry().model("stackgan")
    model = cls(cls.make_config("paper", {"stage": 1}, name="stackgan"), text_dim=reference_stackgan.TEXT_DIM)
    model.train()
    model.step = lambda images, text: model.train_step({"images": images, "text": text,
                                                        "caption_ids": torch.arange(len(text))})
    return model


def synthetic_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(BATCH, 3, SIZE, SIZE, generator=g) * 2 - 1,
            torch.randn(BATCH, reference_stackgan.TEXT_DIM, generator=g))


def n_params(nets) -> dict[str, float]:
    return {k: round(sum(p.numel() for p in v.parameters()) / 1e6, 2) for k, v in nets.items()}


def timed(step, images, text) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one step."""
    t, c = time.perf_counter(), time.process_time()
    step(images, text)
    return time.perf_counter() - t, time.process_time() - c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", type=Path, help="a StackGAN-Pytorch checkout (the repository root)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    ap.add_argument("--profile", action="store_true", help="print a torch.profiler table of one step each")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sides = {"reference": reference_stackgan.ReferenceStage1(reference_stackgan.load(args.reference), BATCH),
             "ganzoo": ganzoo_stage1()}
    images, text = synthetic_batch()
    for side in sides.values():
        for _ in range(args.warmup):
            side.step(images, text)
    if args.profile:
        for name, side in sides.items():
            with torch.profiler.profile() as prof:
                side.step(images, text)
            print(f"== {name}\n" + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))
        return 0
    load_start = os.getloadavg()
    times: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(args.rounds):
        for name, side in sides.items():
            wall, used = timed(side.step, images, text)
            times[name].append(wall)
            cpu[name].append(used)
    per_round = [r / g for r, g in zip(times["reference"], times["ganzoo"])]
    out = {
        "batch_size": BATCH, "image_size": SIZE, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "params_millions": {k: n_params(s.networks()) for k, s in sides.items()},
        "step_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "images_per_s": {k: round(BATCH / statistics.median(v), 2) for k, v in times.items()},
        "ratio_median": round(statistics.median(times["reference"]) / statistics.median(times["ganzoo"]), 3),
        "ratio_per_round": [round(r, 3) for r in per_round],
        "cpu_s": {k: [round(t, 3) for t in v] for k, v in cpu.items()},
        "cpu_ratio_per_round": [round(r / g, 3) for r, g in zip(cpu["reference"], cpu["ganzoo"])],
        "loadavg_start_end": [round(load_start[0], 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
