"""`ganzoo evaluator`: train the shapes attribute evaluator used by the attribute metrics.

Added to the command line by this plugin's ``register_commands`` hook.
"""

from __future__ import annotations

import json
import platform
import shlex
from pathlib import Path

import click

from ganzoo.errors import UsageError


@click.group("evaluator")
def evaluator_group():
    """The shapes attribute evaluator (caption-accuracy, r-precision, domain-is/fid/kid)."""


@evaluator_group.command("train")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("shapes_evaluator.safetensors"),
              show_default=True, help="Weights file to write; a .json report is written beside it.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--steps", type=int, default=1500, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--threads", type=int, default=None,
              help="torch CPU threads (default: torch's choice; 1 is fastest on a busy 2-core machine).")
@click.option("--test-images", type=int, default=None, help="Measure on the first N test images only (default: all).")
def train_cmd(out: Path, seed: int, steps: int, batch_size: int, threads: int | None, test_images: int | None):
    """Train the evaluator on fresh renders (16-128 px) and measure it on the real shapes test split."""
    import torch

    from ganzoo.registry import get_registry
    from ganzoo_metrics import evaluator, evaluator_train

    if steps < 1 or batch_size < 1:
        raise UsageError("--steps and --batch-size must be positive")
    if out.suffix != ".safetensors":
        raise UsageError(f"--out must end in .safetensors; got {out}")
    if threads:
        torch.set_num_threads(threads)
    net, seconds = evaluator_train.timed_train(steps, seed, batch_size, log=lambda m: click.echo(m, err=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    evaluator.save(net, out)
    reloaded = evaluator.load(out)  # measure exactly what was written (float16 weights)
    split = get_registry().dataset("shapes", seed=0).split("test")
    acc = evaluator_train.measure(reloaded, split, limit=test_images)
    report = {
        "command": shlex.join(["ganzoo", "evaluator", "train", "--out", str(out), "--seed", str(seed),
                               "--steps", str(steps), "--batch-size", str(batch_size)]
                              + (["--threads", str(threads)] if threads else [])),
        "seed": seed, "steps": steps, "batch_size": batch_size, "learning_rate": evaluator_train.LEARNING_RATE,
        "train_sizes": list(evaluator_train.TRAIN_SIZES), "input_size": evaluator.INPUT_SIZE,
        "noise_max": evaluator_train.NOISE_MAX,
        "train_seconds": round(seconds, 1), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(),
        "parameters": sum(p.numel() for p in net.parameters()),
        "feature_scale": float(net.feature_scale),
        "test_split": {"dataset": "shapes", "dataset_seed": 0, "split": "test", "images": min(len(split), test_images or len(split))},
        "test_accuracy": acc,
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    for size, a in acc.items():
        click.echo(f"{size:>6}: " + "  ".join(f"{k} {v:.4f}" for k, v in a.items()))
    click.echo(f"wrote {out} and {out.with_suffix('.json')} ({seconds:.0f} s training)")
