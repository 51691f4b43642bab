"""`ganzoo eval`: every metric of a trained run, printed and recorded in RUN/eval.json."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ganzoo.run_settings import run_default


@click.command("eval")
@click.option("--checkpoint", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run directory written by `ganzoo train`.")
@click.option("--metrics", default=None, help="Comma-separated metric names (default: the preset's list).")
@click.option("--preset", default=run_default("preset"), show_default=True, help="Bench preset giving the default metrics and sample count.")
@click.option("--samples", type=int, default=None, help="Generated samples (cpu preset 500; paper protocol 30000).")
@click.option("--batch-size", type=int, default=None, help="Generation batch size.")
@click.option("--split", default="test", show_default=True, help="Split whose captions condition the samples.")
@click.option("--inception-weights", type=click.Path(dir_okay=False, exists=True), default=None,
              help="torch-fidelity InceptionV3 weights file (enables IS; default: offline FID weights).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
def command(run_dir, metrics, preset, samples, batch_size, split, inception_weights, seed, device):
    """Evaluate a trained run: IS/FID/KID, caption accuracy, R-precision, throughput, memory."""
    from ganzoo.run_settings import bench_preset
    from ganzoo.checkpoint import atomic_write_text
    from ganzoo.env import resolve_device
    from ganzoo.errors import UsageError
    from ganzoo.memory import release_free_memory
    from ganzoo.metrics import EvalContext, evaluate
    from ganzoo.runs import load_run

    settings = bench_preset(preset)
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else list(settings["metrics"])
    n = samples if samples is not None else int(settings["eval_samples"])
    bs = batch_size if batch_size is not None else int(settings["eval_batch"])
    if n <= 0 or bs <= 0:
        raise UsageError("--samples and --batch-size must be positive")
    device = resolve_device(device)
    run = load_run(run_dir, device=device)
    data_split = run.dataset.split(split)
    ctx = EvalContext(model=run.model, split=data_split, embeddings=run.embeddings(data_split),
                      dataset_name=run.spec.dataset, num_samples=n, batch_size=bs, seed=seed, device=device,
                      inception_weights=Path(inception_weights) if inception_weights else None,
                      train_stats=run.train_stats)
    release_free_memory()  # the allocator state a bench's evaluation starts from (ganzoo.memory)
    result = evaluate(ctx, names)
    for k, v in sorted(result["values"].items()):
        click.echo(f"{k:40s} {v:.6g}" if isinstance(v, (int, float)) and v is not None else f"{k:40s} {v}")
    for k, why in sorted(result["unavailable"].items()):
        click.echo(f"{k:40s} unavailable: {why}")
    from ganzoo.store import portable_value

    atomic_write_text(Path(run_dir) / "eval.json", json.dumps(portable_value(  # no machine folders in the file
        {"split": split, "samples": n, "batch_size": bs, "seed": seed, **result}, Path(run_dir)), indent=1, default=str))
    click.echo(f"recorded in {Path(run_dir) / 'eval.json'}")
