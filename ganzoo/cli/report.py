"""`ganzoo report`: render a results store as Markdown + self-contained HTML."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from ganzoo.errors import UsageError
from ganzoo.store import ResultStore, portable_text, resolve_store_path


@click.command("report")
@click.argument("store", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output directory (default: a 'report' folder beside the store).")
@click.option("--title", default=None, help="Report title.")
@click.option("--ablation", nargs=2, metavar="A B", default=None,
              help="Instead, compare two arms, each MODEL or MODEL:VARIANT (e.g. stackgan:ca=false stackgan).")
@click.option("--no-paper-reference", is_flag=True,
              help="With --ablation: leave out the reference figures the model plugin declares (e.g. its paper's).")
def command(store, out_dir, title, ablation, no_paper_reference):
    """Build report.md, report.html, figures/ and data/*.csv from STORE.

    STORE is a results.sqlite file or the bench output directory holding one. A directory
    written by `ganzoo bench --shard I/N` (every shard done) is gathered first: the rows of all
    shards go, in the grid's order, into STORE/results.sqlite.
    """
    from ganzoo.report import build_ablation_report, build_report
    from ganzoo.report.reference import reference_for_arms
    from ganzoo.report.tables import parse_arm

    from ganzoo.launchers.shards import gather, is_sharded

    if Path(store).is_dir() and is_sharded(Path(store)):  # `bench --shard I/N` folders: one store from all shards
        gathered, added = gather(Path(store))
        click.echo(f"gathered {added} run(s) from the shards of {store} into {gathered}")
    path = resolve_store_path(store)
    if not path.is_file():
        raise UsageError(f"no results store at {path} (give a results.sqlite file or a bench output directory)")
    results = ResultStore(path, create=False)
    out_dir = out_dir or path.parent / "report"
    rendered_by = shlex.join(["ganzoo", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("ganzoo") else None
    if rendered_by:
        rendered_by = portable_text(rendered_by, path.parent)  # no machine paths in the report
    if ablation:
        arm_a, arm_b = (parse_arm(a) for a in ablation)
        runs = results.runs()
        present = {(m or "", v or "") for m, v in zip(runs["model"], runs["variant"])}
        for arm in (arm_a, arm_b):
            if arm not in present:
                valid = ", ".join(sorted(f"{m}:{v}" if v else m for m, v in present)) or "(none)"
                raise UsageError(f"no runs of {':'.join(filter(None, arm))} in {path}; arms in the store: {valid}")
        reference = None if no_paper_reference else reference_for_arms(arm_a, arm_b)  # the model plugin's
        written = build_ablation_report(results, out_dir, arm_a, arm_b, paper_reference=reference,
                                        title=title, rendered_by=rendered_by)
    else:
        written = build_report(results, out_dir, title=title, rendered_by=rendered_by, export=True)
    for path in written.values():
        click.echo(str(path))
