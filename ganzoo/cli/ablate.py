"""`ganzoo ablate`: arms that differ in one config key, equally tuned, best against best over seeds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ganzoo.cli.options import apply_budget, dataset_options, speed_options, training_options
from ganzoo.launchers.options import slurm_options


@click.command("ablate")
@click.argument("model", type=str)
@click.argument("arms", type=str)
@click.option("--tune", "tune", multiple=True, metavar="KEY=V1,V2",
              help="A tuning grid axis (repeatable; the grid is their product), the same for every arm.")
@click.option("--tune-budget", default=None,
              help="Budget of each tuning run (images seen like 48k, or time like 60s; default: the final budget).")
@click.option("--tune-seed", type=int, default=100, show_default=True, help="Seed of the tuning runs.")
@click.option("--criterion", default=None,
              help="Metric that picks each arm's best setting on the val split (default: the bench preset's).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Config overrides shared by every arm.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds per arm (>= 3 for CIs).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output directory.")
@click.option("--resume", is_flag=True, help="Skip runs already in the store; resume the interrupted one.")
@click.option("--inception-weights", type=click.Path(dir_okay=False, exists=True), default=None,
              help="torch-fidelity InceptionV3 weights (enables IS; default: offline FID weights, IS unavailable).")
@click.option("--eval-samples", type=int, default=None, help="Generated samples per metric.")
@click.option("--metrics", "metric_names", default=None,
              help="Comma-separated metrics, or +a,b to add to the preset's (diversity and smoothness are always added).")
@click.option("--eval-every", type=str, default=None, metavar="IMAGES",
              help="Images seen between in-training measurements of the cheap metrics in the final runs (0: off).")
@click.option("--jobs", default="1", show_default=True,
              help="Runs at once, each in its own worker process ('auto': one per GPU, else 1).")
@click.option("--threads", type=int, default=None,
              help="Torch threads per run (default: the cores shared out among the --jobs).")
@click.option("--run-timeout", type=float, default=None, metavar="SECONDS",
              help="Kill a run still going after SECONDS and record it as failed.")
@click.option("--allow-failures", is_flag=True, help="Exit 0 even when runs failed, diverged or collapsed.")
@slurm_options
@training_options
def command(model, arms, tune, tune_budget, tune_seed, criterion, settings, seeds, out, resume, inception_weights,
            eval_samples, metric_names, eval_every, jobs, threads, run_timeout, allow_failures, dataset, data_dir, dataset_opts, preset, text_encoder, text_norm, steps, epochs, budget,
            device, num_workers, checkpoint_every, no_progress, amp, channels_last, compile_, cudnn_benchmark, tf32,
            sync_bn, **launch):
    """Compare MODEL's arms KEY=V1,V2[,...] (one arm per value; the first is the reference arm A).

    Each arm gets the same tuning (--tune grid, scored on the val split by --criterion), then
    its best setting runs with every seed on the test split. Arms with different output
    sizes (stage=1,2) are evaluated at the largest one.

    \b
    Examples:
      ganzoo ablate stackgan ca=true,false --tune kl_weight=0.1,0.5,2
      ganzoo ablate stackgan text_twice=true,false --seeds 0,1,2
      ganzoo ablate stackgan stage=1,2 --tune lr_g=2e-4,1e-3
    """
    from ganzoo.ablate import AblationPlan, parse_values, run_ablation
    from ganzoo.bench import BenchPlan, bench_preset, parse_seeds, resolve_bench_device
    from ganzoo.budget import parse_budget
    from ganzoo.cli.options import parse_model_variant
    from ganzoo.config import parse_overrides
    from ganzoo.errors import UsageError
    from ganzoo.runs import RunSpec
    from ganzoo.launchers.options import launcher_fields, resolve_launcher_device
    from ganzoo.worker import resolve_jobs

    settings_p = dict(bench_preset(preset))
    if eval_samples is not None:
        if eval_samples <= 0:
            raise UsageError(f"--eval-samples must be positive, got {eval_samples}")
        settings_p["eval_samples"] = eval_samples
    from ganzoo.cli.bench import apply_report_options

    apply_report_options(settings_p, metric_names, eval_every, False)
    name, overrides = parse_model_variant(model)
    overrides.update(parse_overrides(settings))
    key, values = parse_values(arms, "the arms")
    grid = dict(parse_values(t, "--tune") for t in tune)
    if not (steps or epochs or budget):
        budget = settings_p.get("budget") or None
        if not budget:
            raise UsageError(f"preset {preset!r} sets no budget: give --steps, --epochs or --budget")
    base = RunSpec(model=name, preset=preset, overrides=overrides, dataset=dataset,
                   dataset_options=dataset_options(data_dir, dataset_opts), text_encoder=text_encoder,
                   text_norm=text_norm or settings_p.get("text_norm", "whiten"),
                   text_norm_dim=int(settings_p.get("text_norm_dim", 64)), num_workers=num_workers,
                   checkpoint_every=checkpoint_every,
                   speed=speed_options(amp, channels_last, compile_, cudnn_benchmark, tf32), sync_bn=sync_bn)
    apply_budget(base, steps, epochs, budget)
    tune_fields = {}
    if tune_budget:
        kind, value = parse_budget(tune_budget)
        tune_fields = {"steps": None, "epochs": None, "time_budget_s": None, "images_budget": None,
                       **({"time_budget_s": value} if kind == "time" else {"images_budget": int(value)})}
    ablation = AblationPlan(base=base, key=key, values=values, seeds=parse_seeds(seeds), tune=grid,
                            tune_seed=tune_seed, tune_budget=tune_fields,
                            criterion=criterion or settings_p.get("ablate_criterion", "caption-accuracy.exact"))
    ablation.check()
    _check_request(ablation, dataset)
    out_dir = Path(out or f"ablate-{name}-{key}-{datetime.now():%Y%m%d-%H%M%S}")
    fields = launcher_fields(**launch)
    device = resolve_launcher_device(device, fields)
    plan = BenchPlan(bench_id=out_dir.name, out=out_dir, specs=ablation.all_specs(), preset=settings_p,
                     device=device, progress=not no_progress, resume=resume,
                     inception_weights=Path(inception_weights) if inception_weights else None,
                     jobs=resolve_jobs(jobs, device), threads=threads, run_timeout=run_timeout, **fields)
    _validate_bench(plan)
    written = run_ablation(ablation, plan)
    report = written["ablation"].get("html", out_dir / "ablation")
    click.echo(f"\nbest settings: {written['best']}")
    click.echo(f"ablation report: {report}")
    if not allow_failures:
        from ganzoo.bench import raise_for_outcome

        raise_for_outcome(written["plans"][-1], report)  # a dead tuning setting is a finding, not a failure


def _check_request(ablation, dataset: str) -> None:
    """Every arm x setting resolves to a valid config, and the dataset has the tuning split."""
    from ganzoo.errors import UsageError
    from ganzoo.harness import resolve_model_config
    from ganzoo.registry import get_registry

    for spec in ablation.all_specs():
        model_cls, config = resolve_model_config(spec)
        model_cls(config, text_dim=8, device="meta")  # the model's own validate(), no weights
    if ablation.tune:
        data = get_registry().dataset(dataset, **ablation.base.dataset_options)
        if ablation.tune_split not in data.splits:
            raise UsageError(f"dataset {dataset} has no {ablation.tune_split!r} split to tune on "
                             f"(it has {', '.join(data.splits)}); drop --tune or use a dataset with one")


def _validate_bench(plan) -> None:
    """The bench's own whole-request check, when the bench module offers one."""
    import ganzoo.bench as bench

    check = getattr(bench, "validate_plan", None)
    if check is not None:
        check(plan)
