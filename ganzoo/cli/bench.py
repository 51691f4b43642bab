"""`ganzoo bench`: train and evaluate several models under one harness and write a report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ganzoo.cli.options import apply_budget, dataset_options, speed_options, training_options


@click.command("bench")
@click.option("--models", default=None,
              help="Comma-separated models, 'all', or variants like stackgan:ca=false (default: the preset's).")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds; each model runs once per seed.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output directory (default bench-TIME).")
@click.option("--resume", is_flag=True, help="Skip runs already in the store; continue an interrupted run.")
@click.option("--inception-weights", type=click.Path(dir_okay=False, exists=True), default=None,
              help="torch-fidelity InceptionV3 weights (enables IS; default: offline FID weights, IS unavailable).")
@click.option("--eval-samples", type=int, default=None, help="Generated samples per metric (preset default).")
@training_options
def command(models, seeds, out, resume, inception_weights, eval_samples, dataset, data_dir, dataset_opts, preset, text_encoder, text_norm, steps,
            epochs, budget, device, num_workers, checkpoint_every, no_progress, amp, channels_last, compile_,
            cudnn_benchmark, tf32, sync_bn):
    """Train, evaluate and report every model in MODELS with the same data, budget and metrics.

    \b
    Examples:
      ganzoo bench                                   # stackgan + ebgan on shapes, cpu preset
      ganzoo bench --models stackgan,ebgan --seeds 0,1,2 --budget 4m
      ganzoo bench --models all --steps 500 --out bench-all
      ganzoo bench --models stackgan --dataset cub --data-dir data/birds --preset paper --epochs 600
    """
    from ganzoo.bench import BenchPlan, bench_preset, expand_models, parse_seeds, resolve_bench_device, run_bench
    from ganzoo.errors import UsageError
    from ganzoo.runs import RunSpec

    settings = dict(bench_preset(preset))
    if eval_samples is not None:
        if eval_samples <= 0:
            raise UsageError(f"--eval-samples must be positive, got {eval_samples}")
        settings["eval_samples"] = eval_samples
    seed_list = parse_seeds(seeds)
    chosen = expand_models(models, settings["models"]) if models else expand_models("", settings["models"])
    if not (steps or epochs or budget):
        budget = settings.get("budget") or None
        if not budget:
            raise UsageError(f"preset {preset!r} sets no budget: give --steps, --epochs or --budget")
    specs = []
    for name, overrides in chosen:
        for seed in seed_list:
            spec = RunSpec(model=name, preset=preset, overrides=dict(overrides), dataset=dataset,
                           dataset_options=dataset_options(data_dir, dataset_opts), text_encoder=text_encoder,
                           text_norm=text_norm or settings.get("text_norm", "whiten"),
                           text_norm_dim=int(settings.get("text_norm_dim", 64)), seed=seed,
                           num_workers=num_workers, checkpoint_every=checkpoint_every,
                       speed=speed_options(amp, channels_last, compile_, cudnn_benchmark, tf32), sync_bn=sync_bn)
            specs.append(apply_budget(spec, steps, epochs, budget))
    out_dir = Path(out or f"bench-{datetime.now():%Y%m%d-%H%M%S}")
    plan = BenchPlan(bench_id=out_dir.name, out=out_dir, specs=specs, preset=settings,
                     device=resolve_bench_device(device), progress=not no_progress, resume=resume,
                     inception_weights=Path(inception_weights) if inception_weights else None)
    written = run_bench(plan)
    click.echo(f"\nreport: {written.get('html', out_dir / 'report')}")
