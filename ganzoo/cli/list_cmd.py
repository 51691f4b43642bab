"""`ganzoo list`: what the installed plugins provide."""

from __future__ import annotations

import click

from ganzoo.registry import KINDS, get_registry


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(["models", "datasets", "text-encoders", "metrics"]))
def command(kind):
    """List models, datasets, text encoders and metrics, with the plugin providing each.

    A plugin that failed to load is reported once, as a warning on stderr.
    """
    reg = get_registry()
    wanted = {"models": "model", "datasets": "dataset", "text-encoders": "text encoder", "metrics": "metric"}
    kinds = [wanted[kind]] if kind else list(KINDS)
    for k in kinds:
        entries = [reg.entries[k][n] for n in reg.names(k)]
        click.secho(f"{k}s:", bold=True)
        if not entries:
            click.echo("  (none)")
        width = max((len(e.name) for e in entries), default=0)
        pwidth = max((len(e.plugin) for e in entries), default=0)
        for e in entries:
            plugin = f"[{e.plugin}]"
            click.echo(f"  {e.name:<{width}}  {plugin:<{pwidth + 2}}  {e.description}")
