"""`ganzoo bench`: train and evaluate several models under one harness and write a report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ganzoo.cli.options import bench_plan_fields, bench_run_options, bench_settings, run_spec_fields, training_options
from ganzoo.launchers.options import launcher_options


@click.command("bench")
@click.option("--models", default=None,
              help="Comma-separated models, 'all', or variants like stackgan:ca=false (default: the preset's).")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds; each model runs once per seed.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output directory (default bench-TIME).")
@click.option("--tensorboard", is_flag=True,
              help="Also write losses, periodic metrics and sample grids as TensorBoard events in each run "
                   "folder (needs the extra: pip install 'ganzoo[tensorboard]').")
@bench_run_options
@training_options
@launcher_options
def command(models, seeds, out, tensorboard, allow_failures, **options):
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
    from ganzoo.bench import BenchPlan, expand_models, parse_seeds, raise_for_outcome, run_bench
    from ganzoo.run_builder import build_run_spec

    fields = run_spec_fields(options)
    settings = bench_settings(fields["preset"], options, tensorboard)
    seed_list = parse_seeds(seeds)
    chosen = expand_models(models or "", settings["models"])
    specs = [build_run_spec(name, overrides, settings=settings, seed=seed, preset_budget=True, **fields)
             for name, overrides in chosen for seed in seed_list]
    out_dir = Path(out or f"bench-{datetime.now():%Y%m%d-%H%M%S}")
    plan = BenchPlan(bench_id=out_dir.name, out=out_dir, specs=specs, preset=settings, **bench_plan_fields(options))
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

