"""`ganzoo ablate`: with/without comparisons over seeds, with confidence intervals."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ganzoo.cli.options import apply_budget, dataset_options, speed_options, training_options


@click.command("ablate")
@click.argument("switch", type=str)
@click.option("--model", default="stackgan", show_default=True, help="Model to ablate.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Config overrides shared by both arms.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds per arm.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output directory.")
@click.option("--resume", is_flag=True, help="Skip runs already in the store.")
@click.option("--inception-weights", type=click.Path(dir_okay=False, exists=True), default=None,
              help="torch-fidelity InceptionV3 weights (enables IS; default: offline FID weights, IS unavailable).")
@click.option("--eval-samples", type=int, default=None, help="Generated samples per metric.")
@training_options
def command(switch, model, settings, seeds, out, resume, inception_weights, eval_samples, dataset, data_dir, dataset_opts, preset, text_encoder,
            text_norm, steps, epochs, budget, device, num_workers, checkpoint_every, no_progress, amp, channels_last, compile_,
            cudnn_benchmark, tf32, sync_bn):
    """Run MODEL with and without SWITCH (ca = Conditioning Augmentation) over several seeds.

    \b
    Example:
      ganzoo ablate ca --model stackgan --seeds 0,1,2 --preset cpu
    """
    from ganzoo.ablate import ablation_specs, run_ablation
    from ganzoo.bench import BenchPlan, bench_preset, parse_seeds, resolve_bench_device
    from ganzoo.cli.options import parse_model_variant
    from ganzoo.config import parse_overrides
    from ganzoo.errors import UsageError
    from ganzoo.runs import RunSpec

    settings_p = dict(bench_preset(preset))
    if eval_samples is not None:
        if eval_samples <= 0:
            raise UsageError(f"--eval-samples must be positive, got {eval_samples}")
        settings_p["eval_samples"] = eval_samples
    name, overrides = parse_model_variant(model)
    overrides.update(parse_overrides(settings))
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
    specs, arm_a, arm_b = ablation_specs(switch, base, parse_seeds(seeds))
    out_dir = Path(out or f"ablate-{switch}-{datetime.now():%Y%m%d-%H%M%S}")
    plan = BenchPlan(bench_id=out_dir.name, out=out_dir, specs=specs, preset=settings_p,
                     device=resolve_bench_device(device), progress=not no_progress, resume=resume,
                     inception_weights=Path(inception_weights) if inception_weights else None)
    written = run_ablation(plan, arm_a, arm_b)
    click.echo(f"\nablation report: {written['ablation'].get('html', out_dir / 'ablation')}")
