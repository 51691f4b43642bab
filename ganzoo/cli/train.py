"""`ganzoo train`: train one model into a run directory (resumable)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ganzoo.cli.options import apply_budget, dataset_options, speed_options, parse_model_variant, training_options
from ganzoo.config import parse_overrides
from ganzoo.errors import GanzooError, UsageError
from ganzoo.runs import RunSpec


@click.command("train")
@click.option("--model", "model_text", default=None, help="Model name (not needed with --resume), optionally with a variant: stackgan:ca=false.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Override a model config key (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory (default runs/MODEL-TIME).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              help="Continue the interrupted run in this directory.")
@training_options
def command(model_text, settings, seed, out, resume_dir, dataset, data_dir, dataset_opts, preset, text_encoder, text_norm,
            steps, epochs, budget, device, num_workers, checkpoint_every, no_progress, amp, channels_last, compile_,
            cudnn_benchmark, tf32, sync_bn):
    """Train one model on one dataset and save it as a run directory.

    \b
    Examples:
      ganzoo train --model stackgan --preset cpu --steps 2000 --out runs/sg
      ganzoo train --model stackgan:ca=false --budget 4m
      ganzoo train --resume runs/sg --steps 4000
    """
    from ganzoo.harness import train

    if resume_dir:
        spec = RunSpec(model="?")
        apply_budget(spec, steps, epochs, budget)
        run_dir = Path(resume_dir)
    else:
        if not model_text:
            raise UsageError("give --model NAME (see `ganzoo list models`) or --resume RUN")
        name, overrides = parse_model_variant(model_text)
        overrides.update(parse_overrides(settings))
        spec = RunSpec(model=name, preset=preset, overrides=overrides, dataset=dataset,
                       dataset_options=dataset_options(data_dir, dataset_opts), text_encoder=text_encoder,
                       text_norm=text_norm or _preset_text_norm(preset), seed=seed, num_workers=num_workers,
                       checkpoint_every=checkpoint_every,
                       speed=speed_options(amp, channels_last, compile_, cudnn_benchmark, tf32), sync_bn=sync_bn)
        apply_budget(spec, steps, epochs, budget)
        run_dir = Path(out or f"runs/{name}-{datetime.now():%Y%m%d-%H%M%S}")
    result = train(spec, run_dir, device=device, resume=bool(resume_dir), progress=not no_progress)
    from ganzoo.distributed import info

    if not info().is_main:
        return
    rates = result.train_stats.get("train_images_per_s") or {}
    shown = ", ".join(f"{phase} {ips:.1f} images/s" for phase, ips in rates.items())
    click.echo(f"{result.status}: {result.steps} steps, {result.images_seen} images in {result.wall_time_s:.1f}s"
               + (f" ({shown})" if shown else "") + f" -> {run_dir}")
    if result.status != "ok":
        raise GanzooError(f"run {result.status}: {result.reason}")


def _preset_text_norm(preset: str) -> str:
    """The bench preset's embedding standardisation, so train and bench condition models alike."""
    from ganzoo.bench import bench_presets

    return bench_presets().get(preset, {}).get("text_norm", "whiten")
