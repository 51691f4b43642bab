"""How far the StackGAN Stage-I train step is from this CPU's fp32 limit.

Counts the FLOPs of one ganzoo Stage-I train step (birds widths, batch 64, 64 px, fp32) with
``torch.utils.flop_counter`` (convolutions, matrix products and their backward passes;
element-wise ops are not counted, so the figure is a lower bound on the work), times the
step, and measures the machine's fp32 peak on the same threads with a large matrix product
and a large channels-last convolution (forward + backward). With a reference checkout it
counts the reference step's FLOPs too (``benchmarks/reference_stackgan.py``).

``--ab-rounds N`` instead compares the discriminator's conditional head as it was (the
condition replicated 4 x 4, concatenated to the features, one conv3x3) with the current one
(:class:`ganzoo_stackgan.discriminator.CondLogits`, no concatenation): the FLOPs of a step
of each, then N rounds of one step each, alternating, on two identically initialised models.

    .venv/bin/python benchmarks/roofline.py --threads 2 --steps 3 --json reports/perf/roofline.json
    .venv/bin/python benchmarks/roofline.py --reference PATH/TO/StackGAN-Pytorch ...
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/roofline.py --threads 1 --ab-rounds 4 --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage1_vs_reference import ganzoo_stage1, synthetic_batch  # noqa: E402


def count_flops(step, images, text) -> tuple[int, dict[str, int]]:
    """FLOPs of one call of ``step`` and the FLOPs per aten op."""
    with FlopCounterMode(display=False) as counter:
        step(images, text)
    per_op = {str(k): int(v) for k, v in counter.get_flop_counts().get("Global", {}).items()}
    return int(counter.get_total_flops()), dict(sorted(per_op.items(), key=lambda kv: -kv[1]))


def best_rate(fn, flops: float, reps: int) -> dict[str, float]:
    """Best GFLOP/s over ``reps`` calls after one warm-up, per wall second and per process
    CPU second (the latter is steadier when other jobs share the cores; with one thread)."""
    fn()
    timings = [_time(fn) for _ in range(reps)]
    return {"wall": round(flops / min(t[0] for t in timings) / 1e9, 1),
            "cpu": round(flops / min(t[1] for t in timings) / 1e9, 1)}


def _time(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def matmul_peak(n: int, reps: int) -> dict[str, float]:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return best_rate(lambda: a @ b, 2.0 * n ** 3, reps)


def conv_peak(reps: int, batch: int = 32, channels: int = 256, size: int = 32) -> dict[str, float]:
    """3x3 convolution forward + backward (input and weight gradients): 3x the forward FLOPs."""
    x = torch.randn(batch, channels, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()
    w = torch.randn(channels, channels, 3, 3).contiguous(memory_format=torch.channels_last).requires_grad_()
    forward = 2.0 * batch * size * size * channels * channels * 9

    def fwd_bwd():
        y = F.conv2d(x, w, padding=1)
        y.backward(torch.ones_like(y))

    return best_rate(fwd_bwd, 3 * forward, reps)


def with_concat_head(model):
    """``model`` with its discriminator's conditional head computed the old way (concat + conv3x3):
    the same parameters, only the forward differs (the "before" of ``--ab-rounds``)."""
    from ganzoo.speed import unwrap
    from ganzoo_stackgan.discriminator import CondLogits

    class ConcatCondLogits(CondLogits):
        def forward(self, features, cond):
            c = cond.view(-1, self.c_dim, 1, 1).expand(-1, -1, features.shape[2], features.shape[3])
            return self.logit(self.joint(torch.cat((features, c), dim=1))).view(-1)

    head = unwrap(model.networks()["stage1_D"]).get_cond_logits
    assert type(head) is CondLogits, type(head)
    head.__class__ = ConcatCondLogits
    return model


def cond_head_ab(rounds: int) -> dict:
    """FLOPs and alternating step times: concat head (A, before) vs split head (B, after)."""
    images, text = synthetic_batch()
    models = {}
    for name in ("concat", "split"):
        torch.manual_seed(0)
        models[name] = ganzoo_stage1()
    with_concat_head(models["concat"])
    flops, by_op = {}, {}
    for name, model in models.items():
        model.step(images, text)  # warm-up
        flops[name], by_op[name] = count_flops(model.step, images, text)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in models}
    for _ in range(rounds):
        for name, model in models.items():
            times[name].append(_time(lambda: model.step(images, text)))
    return {
        "step_gflop": {k: round(v / 1e9, 2) for k, v in flops.items()},
        "saved_gflop": round((flops["concat"] - flops["split"]) / 1e9, 2),
        "saved_fraction": round(1 - flops["split"] / flops["concat"], 4),
        "gflop_by_op": {k: {op: round(v / 1e9, 2) for op, v in ops.items()} for k, ops in by_op.items()},
        "step_s": {k: {"wall": [round(t[0], 3) for t in v], "cpu": [round(t[1], 3) for t in v]}
                   for k, v in times.items()},
        # concat time / split time: > 1 means the split head is faster
        "speedup_per_round": {kind: [round(a[k] / b[k], 3) for a, b in zip(times["concat"], times["split"])]
                              for k, kind in enumerate(("wall", "cpu"))},
        "speedup_median": {kind: round(statistics.median(t[k] for t in times["concat"])
                                       / statistics.median(t[k] for t in times["split"]), 3)
                           for k, kind in enumerate(("wall", "cpu"))},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    ap.add_argument("--steps", type=int, default=3, help="timed train steps (median)")
    ap.add_argument("--peak-reps", type=int, default=3)
    ap.add_argument("--reference", type=Path, help="a StackGAN-Pytorch checkout: count its step's FLOPs too")
    ap.add_argument("--ab-rounds", type=int, default=0,
                    help="only compare the concatenating conditional head with the current one, N rounds")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_start = os.getloadavg()[0]
    if args.ab_rounds:
        out = {"step": "ganzoo stackgan paper preset, stage=1 (birds widths), batch 64, 64 px, fp32 eager, CPU; "
                       "A = conditional head concat + conv3x3 (before), B = split head (after)",
               "threads": torch.get_num_threads(), "torch": torch.__version__, **cond_head_ab(args.ab_rounds),
               "loadavg_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)]}
        print(json.dumps(out, indent=1))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=1) + "\n")
        return 0
    images, text = synthetic_batch()
    model = ganzoo_stage1()
    model.step(images, text)  # warm-up
    flops, per_op = count_flops(model.step, images, text)
    steps = [_time(lambda: model.step(images, text)) for _ in range(args.steps)]
    step_s = {"wall": statistics.median(t[0] for t in steps), "cpu": statistics.median(t[1] for t in steps)}
    peaks = {"matmul_4096": matmul_peak(4096, args.peak_reps),
             "conv3x3_256ch_32px_fwd_bwd": conv_peak(args.peak_reps)}
    achieved = {k: flops / v / 1e9 for k, v in step_s.items()}
    best = {k: max(p[k] for p in peaks.values()) for k in achieved}
    out = {
        "step": "ganzoo stackgan paper preset, stage=1 (birds widths), batch 64, 64 px, fp32 eager, CPU",
        "threads": torch.get_num_threads(), "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
        "step_gflop": round(flops / 1e9, 1), "gflop_by_op": {k: round(v / 1e9, 1) for k, v in per_op.items()},
        "step_s_median": {k: round(v, 3) for k, v in step_s.items()},
        "achieved_gflops": {k: round(v, 1) for k, v in achieved.items()}, "peak_gflops": peaks,
        "fraction_of_best_peak": {k: round(achieved[k] / best[k], 3) for k in achieved},
        "loadavg_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }
    if args.reference:
        import reference_stackgan

        ref = reference_stackgan.ReferenceStage1(reference_stackgan.load(args.reference), 64)
        ref.step(images, text)
        ref_flops, ref_ops = count_flops(ref.step, images, text)
        out["reference_step_gflop"] = round(ref_flops / 1e9, 1)
        out["reference_gflop_by_op"] = {k: round(v / 1e9, 1) for k, v in ref_ops.items()}
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
