"""`ganzoo ablate`: arms that differ in one config key, equally tuned, best against best over seeds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ganzoo.cli.options import bench_plan_fields, bench_run_options, bench_settings, run_spec_fields, training_options
from ganzoo.launchers.options import slurm_options
from ganzoo.run_settings import run_default


@click.command("ablate")
@click.argument("model", type=str)
@click.argument("arms", type=str)
@click.option("--tune", "tune", multiple=True, metavar="KEY=V1,V2",
              help="A tuning grid axis (repeatable; the grid is their product), the same for every arm.")
@click.option("--tune-budget", default=None,
              help="Budget of each tuning run (images seen like 48k, or time like 60s; default: the final budget).")
@click.option("--tune-seed", type=int, default=run_default("ablate_tune_seed"), show_default=True, help="Seed of the tuning runs.")
@click.option("--criterion", default=None,
              help="Metric that picks each arm's best setting on the val split (default: the bench preset's).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Config overrides shared by every arm.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds per arm (>= 3 for CIs).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output directory.")
@bench_run_options
@slurm_options
@training_options
def command(model, arms, tune, tune_budget, tune_seed, criterion, settings, seeds, out, allow_failures, **options):
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
    from ganzoo.bench import BenchPlan, parse_seeds, validate_plan
    from ganzoo.budget import parse_budget
    from ganzoo.config import parse_model_variant, parse_overrides
    from ganzoo.run_builder import build_run_spec

    fields = run_spec_fields(options)
    settings_p = bench_settings(fields["preset"], options)
    name, overrides = parse_model_variant(model)
    overrides.update(parse_overrides(settings))
    key, values = parse_values(arms, "the arms")
    grid = dict(parse_values(t, "--tune") for t in tune)
    base = build_run_spec(name, overrides, settings=settings_p, preset_budget=True, **fields)
    tune_fields = {}
    if tune_budget:
        kind, value = parse_budget(tune_budget)
        tune_fields = {"steps": None, "epochs": None, "time_budget_s": None, "images_budget": None,
                       **({"time_budget_s": value} if kind == "time" else {"images_budget": int(value)})}
    ablation = AblationPlan(base=base, key=key, values=values, seeds=parse_seeds(seeds), tune=grid,
                            tune_seed=tune_seed, tune_budget=tune_fields,
                            criterion=criterion or settings_p["ablate_criterion"])
    ablation.check()
    _check_request(ablation, base.dataset)
    out_dir = Path(out or f"ablate-{name}-{key}-{datetime.now():%Y%m%d-%H%M%S}")
    plan = BenchPlan(bench_id=out_dir.name, out=out_dir, specs=ablation.all_specs(), preset=settings_p,
                     **bench_plan_fields(options))
    validate_plan(plan)
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

