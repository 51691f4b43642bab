"""`ganzoo bench`: train and evaluate several models under one harness and write a report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ganzoo.cli.options import apply_budget, dataset_options, speed_options, training_options
from ganzoo.launchers.options import launcher_options


@click.command("bench")
@click.option("--models", default=None,
              help="Comma-separated models, 'all', or variants like stackgan:ca=false (default: the preset's).")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds; each model runs once per seed.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output directory (default bench-TIME).")
@click.option("--resume", is_flag=True, help="Skip runs already in the store; continue an interrupted run.")
@click.option("--inception-weights", type=click.Path(dir_okay=False, exists=True), default=None,
              help="torch-fidelity InceptionV3 weights (enables IS; default: offline FID weights, IS unavailable).")
@click.option("--eval-samples", type=int, default=None, help="Generated samples per metric (preset default).")
@click.option("--metrics", "metric_list", default=None, metavar="A,B,...",
              help="Metrics to compute (default: the preset's); '+a,b' adds to the preset's. Any installed "
                   "metric, with the column its plugin declares.")
@click.option("--eval-every", type=str, default=None, metavar="IMAGES",
              help="Measure the cheap metrics every IMAGES images seen during training (e.g. 16k; 0: off; "
                   "default: the preset's); the report plots them against images seen and wall time.")
@click.option("--tensorboard", is_flag=True,
              help="Also write losses, periodic metrics and sample grids as TensorBoard events in each run "
                   "folder (needs the extra: pip install 'ganzoo[tensorboard]').")
@click.option("--jobs", default="1", show_default=True,
              help="Runs at once, each in its own worker process; 'auto': one per GPU on a GPU machine, else 1.")
@click.option("--threads", type=int, default=None,
              help="Torch threads per run (default: the cores shared out among the --jobs).")
@click.option("--run-timeout", type=float, default=None, metavar="SECONDS",
              help="Kill a run still going after SECONDS and record it as failed; the bench goes on.")
@click.option("--run-memory-limit", "run_memory_mb", type=float, default=None, metavar="MB",
              help="Memory per run (data segment, MB); a run that needs more is recorded as failed.")
@click.option("--allow-failures", is_flag=True,
              help="Exit 0 even when runs failed, diverged or collapsed (default: exit 1 after the report).")
@training_options
@launcher_options
def command(models, seeds, out, resume, inception_weights, eval_samples, metric_list, eval_every, tensorboard, jobs, threads, run_timeout, run_memory_mb, allow_failures,
            dataset, data_dir, dataset_opts, preset, text_encoder, text_norm, steps,
            epochs, budget, device, num_workers, checkpoint_every, no_progress, amp, channels_last, compile_,
            cudnn_benchmark, tf32, sync_bn, **launch):
    """Train, evaluate and report every model in MODELS with the same data, budget and metrics.

    \b
    Examples:
      ganzoo bench                                   # stackgan + ebgan on shapes, cpu preset
      ganzoo bench --models stackgan,ebgan --seeds 0,1,2 --budget 4m
      ganzoo bench --models all --steps 500 --out bench-all
      ganzoo bench --models stackgan --dataset cub --data-dir data/birds --preset paper --epochs 600
      ganzoo bench --models stackgan,ebgan --seeds 0,1 --jobs 2 --run-timeout 1800
      ganzoo bench --models stackgan --seeds 0,1,2 --launcher slurm --slurm-partition gpu --slurm-time 2-00:00:00
      ganzoo bench --models all --seeds 0,1 --out /shared/b --shard 0/4   # then: ganzoo report /shared/b

    \b
    The whole request is checked before the first run (exit 2, nothing written). Each run
    trains and is evaluated in its own worker process. Exit status 1 when any run failed,
    diverged or collapsed (the report is written first); --allow-failures keeps 0.
    """
    from ganzoo.bench import (BenchPlan, bench_preset, expand_models, parse_seeds, raise_for_outcome,
                              resolve_bench_device, run_bench)
    from ganzoo.worker import resolve_jobs
    from ganzoo.errors import UsageError
    from ganzoo.runs import RunSpec

    settings = dict(bench_preset(preset))
    if eval_samples is not None:
        if eval_samples <= 0:
            raise UsageError(f"--eval-samples must be positive, got {eval_samples}")
        settings["eval_samples"] = eval_samples
    apply_report_options(settings, metric_list, eval_every, tensorboard)
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
    from ganzoo.launchers.options import launcher_fields, resolve_launcher_device

    fields = launcher_fields(**launch)  # --launcher, --slurm-*, --gpus-per-run, --shard
    device = resolve_launcher_device(device, fields)
    plan = BenchPlan(bench_id=out_dir.name, out=out_dir, specs=specs, preset=settings, **fields,
                     device=device, progress=not no_progress, resume=resume,
                     inception_weights=Path(inception_weights) if inception_weights else None,
                     jobs=resolve_jobs(jobs, device), threads=threads, run_timeout=run_timeout,
                     run_memory_mb=run_memory_mb)
    written = run_bench(plan)
    if plan.shard is not None:
        from ganzoo.launchers.shards import raise_for_shard_outcome

        click.echo(f"\nshard {plan.shard[0]}/{plan.shard[1]} done; once every shard is: ganzoo report {out_dir}")
        if not allow_failures:
            raise_for_shard_outcome(plan)
        return
    report = written.get('html', out_dir / 'report')
    click.echo(f"\nreport: {report}")
    if not allow_failures:
        raise_for_outcome(plan, report)


def apply_report_options(settings: dict, metric_list: str | None, eval_every: str | None, tensorboard: bool) -> None:
    """``--metrics``, ``--eval-every`` and ``--tensorboard`` into the bench settings (checked here, before any run)."""
    from ganzoo.errors import UsageError

    if metric_list is not None:
        add = metric_list.strip().startswith("+")
        names = [n.strip() for n in metric_list.strip().lstrip("+").split(",") if n.strip()]
        if not names:
            raise UsageError("--metrics is empty; name at least one metric (see `ganzoo list metrics`)")
        settings["metrics"] = list(dict.fromkeys((list(settings.get("metrics", [])) if add else []) + names))
    if eval_every is not None:
        import re

        found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmM]?)", eval_every.strip())
        if found is None and eval_every.strip().lower() != "off":
            raise UsageError(f"--eval-every must be a number of images seen (e.g. 16000, 16k, or 0), got {eval_every!r}")
        scale = {"": 1, "k": 1_000, "m": 1_000_000}[found.group(2).lower()] if found else 0
        settings["eval_every"] = int(float(found.group(1)) * scale) if found else 0
    if tensorboard:
        from ganzoo.tensorboard import check_available

        check_available()
        settings["tensorboard"] = True
