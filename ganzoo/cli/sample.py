"""`ganzoo sample`: a grid of images for captions typed on the command line."""

from __future__ import annotations

import click

from ganzoo.errors import UsageError


@click.command("sample")
@click.argument("captions", nargs=-1, required=True)
@click.option("--checkpoint", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run directory written by `ganzoo train`.")
@click.option("--model", default=None, help="Optional check that the run holds this model.")
@click.option("-n", "n", type=int, default=8, show_default=True, help="Images per caption (different z).")
@click.option("-o", "--out", "out", default="grid.png", show_default=True, help="PNG file to write.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
def command(captions, run_dir, model, n, out, seed, device):
    """Write a grid for CAPTIONS: one row per caption, N samples each (Stage-I beside Stage-II for StackGAN).

    \b
    Example:
      ganzoo sample --checkpoint runs/sg "a large blue triangle at the bottom right on a white background" -n 16 -o grid.png
    """
    from ganzoo.env import resolve_device
    from ganzoo.grid import generate_rows, save_grid
    from ganzoo.runs import load_run

    if n <= 0:
        raise UsageError(f"-n must be positive, got {n}")
    run = load_run(run_dir, device=resolve_device(device))
    if model and model != run.spec.model:
        raise UsageError(f"{run_dir} holds model {run.spec.model!r}, not {model!r}")
    text = run.conditioner.encode(list(captions))
    rows = generate_rows(run.model, text, n, seed=seed, captions=list(captions))
    path = save_grid(out, rows, list(captions))
    click.echo(f"wrote {path} ({len(captions)} caption(s) x {n} samples, {len(rows[0])} stage(s))")
