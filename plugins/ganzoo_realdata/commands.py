"""`ganzoo data check PATH --dataset cub`: validate a StackGAN-layout data folder before training on it.

Added to the command line by this plugin's ``register_commands`` hook, under a ``data``
group that another plugin may extend with its own subcommands.
"""

from __future__ import annotations

import click

from ganzoo.errors import UsageError


def data_group(cli: click.Group) -> click.Group:
    """The ``ganzoo data`` group: the one already there (another plugin's), or a new one."""
    group = cli.commands.get("data")
    if not isinstance(group, click.Group):
        group = click.Group("data", help="Inspect and validate dataset folders.")
        cli.add_command(group)
    return group


@click.command("check")
@click.argument("path", type=click.Path(file_okay=False, path_type=str))
@click.option("--dataset", "dataset", required=True, help="Dataset whose folder layout to check (e.g. cub).")
@click.option("--no-decode", is_flag=True, help="Only check that images exist; skip decoding each one.")
@click.option("--limit", default=20, show_default=True,
              help="Problem lines shown per kind (0: all); the summary always counts all.")
@click.option("--workers", default=4, show_default=True, help="Threads decoding images.")
def check(path, dataset, no_decode, limit, workers):
    """Check a StackGAN-layout data folder; one line per problem, exit 1 if any."""
    from ganzoo_realdata.check import check_folder
    from ganzoo_realdata.layout import LAYOUTS

    if dataset not in LAYOUTS:
        raise UsageError(f"unknown --dataset {dataset!r} for data check; valid: {', '.join(sorted(LAYOUTS))}")
    report = check_folder(path, LAYOUTS[dataset], decode_images=not no_decode, workers=max(1, workers))
    shown: dict[str, int] = {}
    for problem in report.problems:
        shown[problem.kind] = shown.get(problem.kind, 0) + 1
        if limit <= 0 or shown[problem.kind] <= limit:
            click.echo(problem.line())
    for kind, count in sorted(report.by_kind().items()):
        if 0 < limit < count:
            click.echo(f"[{kind}] ... and {count - limit} more (use --limit 0 to list all)")
    for split, counts in report.counts.items():
        click.echo(f"{split}: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))
    if report.ok:
        click.echo(f"OK: {path} is a complete {report.title} folder")
        return
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(report.by_kind().items()))
    click.echo(f"FAILED: {len(report.problems)} problems in {path} ({summary})")
    click.get_current_context().exit(1)
