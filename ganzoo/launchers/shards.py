"""``--shard I/N``: one of N deterministic slices of a bench's grid, for any scheduler.

Run ``i`` of the plan (models x variants x seeds, in the plan's order) belongs to shard
``i % N``. Every shard is the same command with its own ``--shard I/N`` and the same ``--out``,
a folder all of them can reach. A shard runs its runs (with any launcher) and writes, besides
the run directories, only files of its own: ``OUT/shards/I-of-N.json`` (its manifest: the whole
grid and its runs' positions) and ``OUT/runs/RUN/bench-row.json`` (the row the store gets), so
shards never write one file together. ``ganzoo report OUT`` gathers the rows of all N shards, in
plan order, into ``OUT/results.sqlite`` and writes the report; gathering again adds only rows
not yet in the store. ``--resume`` on a shard skips its runs that have a row and resumes the rest.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import click

SHARD_DIR = "shards"
ROW_FILE = "bench-row.json"
_MANIFEST = re.compile(r"(\d+)-of-(\d+)\.json")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` -> ``(I, N)`` with 0 <= I < N."""
    from ganzoo.errors import UsageError

    if text is None or str(text).strip() == "":
        return None
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not found:
        raise UsageError(f"--shard takes I/N (this is slice I of N, counted from 0), got {text!r}")
    shard = (int(found[1]), int(found[2]))
    check_shard(shard)
    return shard


def check_shard(shard: tuple[int, int], runs: int | None = None) -> None:
    from ganzoo.errors import UsageError

    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard {index}/{count}: I must be 0 to N-1 (e.g. --shard 0/{max(count, 2)})")


def shard_indices(total: int, shard: tuple[int, int]) -> list[int]:
    index, count = shard
    return [i for i in range(total) if i % count == index]


def manifest_path(out: Path, shard: tuple[int, int]) -> Path:
    return Path(out) / SHARD_DIR / f"{shard[0]}-of-{shard[1]}.json"


def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def _saved_row(plan, spec) -> dict | None:
    from ganzoo.bench_plan import run_key

    run_dir = Path(plan.out) / "runs" / run_key(spec)
    try:
        saved = json.loads((run_dir / ROW_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not spec.matches_record(saved.get("spec"), run_dir) or saved.get("row", {}).get("bench_id") != plan.bench_id:
        return None
    return saved["row"]


def run_shard(plan) -> dict:
    """The shard's part of :func:`ganzoo.bench.run_bench` (already validated): its runs, its rows, no store."""
    from ganzoo.bench_plan import echo_row, run_key
    from ganzoo.env import git_revision
    from ganzoo.errors import UsageError
    from ganzoo.launchers.dispatch import launch
    from ganzoo.store import portable_text

    out = Path(plan.out)
    mine = shard_indices(len(plan.specs), plan.shard)
    specs = [plan.specs[i] for i in mine]
    for spec in specs:
        run_dir = out / "runs" / run_key(spec)
        if not plan.resume and _saved_row(plan, spec) is None and (run_dir / "checkpoint" / "state.json").exists():
            raise UsageError(f"{run_dir} already holds an unfinished run; pass --resume to continue it "
                             f"or choose another --out")
    plan.command = portable_text(plan.command, out)
    if plan.git_rev is None:
        plan.git_rev = git_revision()
    path = manifest_path(out, plan.shard)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_json(path, {"bench_id": plan.bench_id, "shard": list(plan.shard), "command": plan.command,
                        "git_rev": plan.git_rev, "grid": [run_key(s) for s in plan.specs],
                        "runs": [{"index": i, "key": run_key(plan.specs[i])} for i in mine]})
    todo = []
    for spec in specs:
        if _saved_row(plan, spec) is not None:
            click.echo(f"skip {run_key(spec)}: this shard already ran it")
        else:
            todo.append(spec)
    click.echo(f"shard {plan.shard[0]}/{plan.shard[1]}: {len(specs)} of the grid's {len(plan.specs)} runs"
               f"{f', {len(todo)} to run' if len(todo) != len(specs) else ''}")

    def record(spec, row: dict) -> None:
        from ganzoo.worker import result_row

        run_dir = out / "runs" / run_key(spec)
        _atomic_json(run_dir / ROW_FILE, {"spec": spec.to_record(run_dir), "row": result_row(row, out)})
        echo_row(row)

    launch(plan, todo, record)
    return {"manifest": path}


def shard_outcome(plan) -> list[dict]:
    """The rows of this shard's runs that did not end ok."""
    bad = []
    for i in shard_indices(len(plan.specs), plan.shard):
        row = _saved_row(plan, plan.specs[i])
        if row is not None and row.get("status") != "ok":
            bad.append(row)
    return bad


def raise_for_shard_outcome(plan) -> None:
    from ganzoo.bench_plan import RunsNotOkError

    bad = shard_outcome(plan)
    if bad:
        counts: dict[str, int] = {}
        for row in bad:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        total = len(shard_indices(len(plan.specs), plan.shard))
        raise RunsNotOkError(f"{len(bad)} of this shard's {total} runs did not end ok ({summary}) "
                             f"(--allow-failures exits 0)")


# ---- gathering ------------------------------------------------------------------------------

def manifests(out: Path) -> list[dict]:
    folder = Path(out) / SHARD_DIR
    found = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if _MANIFEST.fullmatch(path.name):
            try:
                found.append(json.loads(path.read_text()))
            except ValueError:
                from ganzoo.errors import GanzooError

                raise GanzooError(f"{path} is damaged; run that shard again with --resume") from None
    return found


def is_sharded(out: Path) -> bool:
    return bool(manifests(out))


def gather(out: Path) -> tuple[Path, int]:
    """Add every shard's rows (plan order) not yet in ``OUT/results.sqlite``; returns the store and how many were added."""
    from ganzoo.bench_plan import curve_points
    from ganzoo.errors import UsageError
    from ganzoo.store import ResultStore, portable_text

    out = Path(out)
    found = manifests(out)
    counts = {m["shard"][1] for m in found}
    if len(counts) != 1:
        raise UsageError(f"{out / SHARD_DIR} holds shards of different splits ({', '.join(f'N={n}' for n in sorted(counts))}); "
                         f"every shard of one bench uses the same N")
    count = counts.pop()
    grids = {json.dumps(m["grid"]) for m in found}
    bench_ids = {m["bench_id"] for m in found}
    if len(grids) != 1 or len(bench_ids) != 1:
        raise UsageError(f"the shards in {out / SHARD_DIR} ran different grids; every shard must be the same "
                         f"command with its own --shard I/{count}")
    missing = sorted(set(range(count)) - {m["shard"][0] for m in found})
    if missing:
        listed = ", ".join(f"{i}/{count}" for i in missing)
        raise UsageError(f"shard(s) {listed} of {out} have not run yet; run the bench with each of them "
                         f"(same command, --shard I/{count}), then `ganzoo report {out}` again")
    runs = sorted((r for m in found for r in m["runs"]), key=lambda r: r["index"])
    rows, unfinished = [], []
    for run in runs:
        try:
            rows.append((run["key"], json.loads((out / "runs" / run["key"] / ROW_FILE).read_text())["row"]))
        except (OSError, ValueError, KeyError):
            unfinished.append(run["key"])
    if unfinished:
        shown = ", ".join(unfinished[:4]) + (f" and {len(unfinished) - 4} more" if len(unfinished) > 4 else "")
        raise UsageError(f"{len(unfinished)} of the {len(runs)} runs of {out} have no row yet ({shown}): their "
                         f"shards are still running or were interrupted (run them again with --resume)")
    store = ResultStore(out / "results.sqlite")
    done = store.finished_keys()
    added = 0
    for key, row in rows:
        if (row["bench_id"], row["model"], portable_text(row.get("variant") or "", out), row["seed"]) in done:
            continue
        run_id = store.add_run(row)
        curves = curve_points(out / "runs" / key)
        if curves:
            store.add_curve_points(run_id, curves)
        added += 1
    store.export(out)  # runs.csv, curves.csv beside the store, as a bench writes them
    return store.path, added
