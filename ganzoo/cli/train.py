"""`ganzoo train`: train one model into a run directory (resumable)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ganzoo.cli.options import run_spec_fields, training_options
from ganzoo.errors import GanzooError, UsageError


@click.command("train")
@click.option("--model", "model_text", default=None, help="Model name (not needed with --resume), optionally with a variant: stackgan:ca=false.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Override a model config key (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory (default runs/MODEL-TIME).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              help="Continue the interrupted run in this directory.")
@training_options
def command(model_text, settings, seed, out, resume_dir, device, no_progress, **options):
    """Train one model on one dataset and save it as a run directory.

    \b
    Examples:
      ganzoo train --model stackgan --preset cpu --steps 2000 --out runs/sg
      ganzoo train --model stackgan:ca=false --budget 4m
      ganzoo train --resume runs/sg --steps 4000
    """
    from ganzoo.config import parse_model_variant, parse_overrides
    from ganzoo.harness import train
    from ganzoo.run_builder import build_run_spec

    fields = run_spec_fields(options)
    if resume_dir:  # the run's own spec is used, with the budget given here (if any)
        budget = {k: fields[k] for k in ("steps", "epochs", "budget")}
        spec = build_run_spec("?", **budget)
        run_dir = Path(resume_dir)
    else:
        if not model_text:
            raise UsageError("give --model NAME (see `ganzoo list models`) or --resume RUN")
        name, overrides = parse_model_variant(model_text)
        overrides.update(parse_overrides(settings))
        spec = build_run_spec(name, overrides, seed=seed, **fields)
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

