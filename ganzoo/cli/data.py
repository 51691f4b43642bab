"""`ganzoo data check PATH --dataset cub`: validate a real-data folder before training on it.

A dataset supports checking when its registered factory has a ``check_folder(path,
decode_images=..., workers=...)`` attribute returning a report with ``problems``
(each with ``kind`` and ``line()``), ``counts`` ({split: {what: count}}), ``ok`` and
``title``; the command knows no dataset by name.
"""

from __future__ import annotations

import click

from ganzoo.errors import UsageError
from ganzoo.registry import get_registry


@click.group("data")
def command():
    """Inspect and validate dataset folders."""


def _checkers() -> dict:
    reg = get_registry()
    found = {name: getattr(reg.get("dataset", name).obj, "check_folder", None) for name in reg.names("dataset")}
    return {name: fn for name, fn in found.items() if callable(fn)}


@command.command("check")
@click.argument("path", type=click.Path(file_okay=False, path_type=str))
@click.option("--dataset", "dataset", required=True, help="Dataset whose folder layout to check (e.g. cub).")
@click.option("--no-decode", is_flag=True, help="Only check that images exist; skip decoding each one.")
@click.option("--limit", default=20, show_default=True,
              help="Problem lines shown per kind (0: all); the summary always counts all.")
@click.option("--workers", default=4, show_default=True, help="Threads decoding images.")
def check(path, dataset, no_decode, limit, workers):
    """Check a StackGAN-layout data folder; one line per problem, exit 1 if any."""
    checkers = _checkers()
    if dataset not in checkers:
        raise UsageError(f"unknown --dataset {dataset!r} for data check; valid: "
                         f"{', '.join(sorted(checkers)) or '(no installed dataset reads a folder)'}")
    report = checkers[dataset](path, decode_images=not no_decode, workers=max(1, workers))
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
