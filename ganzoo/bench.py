"""`ganzoo bench`: every listed model, trained and evaluated under one harness, one store, one report.

Each (model, variant, seed) is one run: trained by :func:`ganzoo.harness.train`, evaluated
by :func:`ganzoo.metrics.evaluate`, illustrated by a sample grid, and written as one row of
the SQLite store when it ends. A failure or divergence is a row too, never a gap. A bench
started again with ``--resume`` skips the runs already in the store and resumes the
interrupted one from its checkpoint.
"""

from __future__ import annotations

import json
import time
import tomllib
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from ganzoo.env import environment, resolve_device
from ganzoo.errors import GanzooError, UsageError
from ganzoo.runs import RunSpec, command_line, load_run

PRESETS_FILE = Path(__file__).with_name("bench_presets.toml")


def bench_presets() -> dict[str, dict[str, Any]]:
    with open(PRESETS_FILE, "rb") as fh:
        return tomllib.load(fh)


def bench_preset(name: str) -> dict[str, Any]:
    """Harness settings for a model preset name; ``cpu-reference`` uses ``cpu``'s, and so on."""
    presets = bench_presets()
    family = name.split("-")[0].split(".")[0]
    if name not in presets and family in presets:
        return presets[family]
    if name not in presets:
        from ganzoo.errors import UnknownNameError

        raise UnknownNameError("bench preset", name, presets)
    return presets[name]


@dataclass
class BenchPlan:
    bench_id: str
    out: Path
    specs: list[RunSpec]
    preset: dict[str, Any]
    device: str
    eval_split: str = "test"
    inception_weights: Path | None = None
    progress: bool = True
    resume: bool = False
    command: str = field(default_factory=command_line)


def run_key(spec: RunSpec) -> str:
    variant = spec.variant().replace("=", "-").replace(",", "_")
    return f"{spec.model}{'-' + variant if variant else ''}-s{spec.seed}"


def run_bench(plan: BenchPlan) -> dict:
    """Train, evaluate and record every run of ``plan``; then export and report. Returns paths."""
    from ganzoo import distributed
    from ganzoo.store import ResultStore

    if not distributed.info().is_main:
        return _train_only(plan)
    plan.out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(plan.out / "results.sqlite")
    done = store.finished_keys()
    for spec in plan.specs:
        key = (plan.bench_id, spec.model, spec.variant(), spec.seed)
        if key in done:
            click.echo(f"skip {run_key(spec)}: already in the store")
            continue
        row = run_one(plan, spec)
        run_id = store.add_run(row)
        curves = _curve_points(Path(row["run_dir"]))
        if curves:
            store.add_curve_points(run_id, curves)
        _echo_row(row)
    return finish(plan, store)


def _train_only(plan: BenchPlan) -> dict:
    """Ranks other than 0 under torchrun: take part in training; rank 0 evaluates and writes."""
    from ganzoo.harness import train
    from ganzoo.store import ResultStore

    store_path = plan.out / "results.sqlite"
    done = ResultStore(store_path).finished_keys() if store_path.exists() else set()
    for spec in plan.specs:
        run_dir = plan.out / "runs" / run_key(spec)
        if (plan.bench_id, spec.model, spec.variant(), spec.seed) in done:
            continue
        try:
            train(replace(spec), run_dir, device=plan.device, progress=False,
                  resume=plan.resume and (run_dir / "checkpoint" / "state.json").exists())
        except GanzooError:
            pass  # rank 0 records the failure
    return {}


def finish(plan: BenchPlan, store) -> dict:
    from ganzoo.report import build_report

    store.export(plan.out)
    written = build_report(store, plan.out / "report", title=f"ganzoo bench {plan.bench_id}",
                           command=plan.command, environment=environment(plan.device))
    print_summary(store)
    return written


def run_one(plan: BenchPlan, spec: RunSpec) -> dict:
    from ganzoo.harness import train

    run_dir = plan.out / "runs" / run_key(spec)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    row: dict[str, Any] = {
        "bench_id": plan.bench_id, "model": spec.model, "variant": spec.variant(), "dataset": spec.dataset,
        "preset": spec.preset, "seed": spec.seed, "budget": spec.budget_label(), "run_dir": str(run_dir),
        "command": plan.command, "started_at": started,
    }
    env = environment(plan.device)
    row.update(device=env["device_name"], versions=env["versions"], git_rev=env["git_rev"])
    t0 = time.perf_counter()
    try:
        resume = (run_dir / "checkpoint" / "state.json").exists() and plan.resume
        if (run_dir / "checkpoint" / "state.json").exists() and not plan.resume:
            raise UsageError(f"{run_dir} already exists; use --resume or another --out")
        result = train(replace(spec), run_dir, device=plan.device, resume=resume, progress=plan.progress)
        row.update(status=result.status, reason=result.reason, steps=result.steps,
                   images_seen=result.images_seen, config=json.loads((run_dir / "run.json").read_text())["config"])
        if result.status == "ok":  # a diverged run keeps its last good checkpoint, but is not scored
            row.update(evaluate_run(plan, run_dir, result.train_stats))
    except GanzooError as exc:
        row.update(status="failed", reason=str(exc))
    except Exception as exc:  # a crash in one model must not lose the others
        row.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
        (run_dir / "error.txt").parent.mkdir(parents=True, exist_ok=True)
        (run_dir / "error.txt").write_text(traceback.format_exc())
    row["wall_time_s"] = time.perf_counter() - t0
    row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return row


def evaluate_run(plan: BenchPlan, run_dir: Path, train_stats: dict) -> dict:
    """Metrics, throughput, memory and a sample grid of a trained run, as store-row fields."""
    from ganzoo.grid import generate_rows, save_grid
    from ganzoo.metrics import EvalContext, evaluate

    run = load_run(run_dir, device=plan.device)
    split = run.dataset.split(plan.eval_split)
    table = run.embeddings(split)
    ctx = EvalContext(model=run.model, split=split, embeddings=table, dataset_name=run.spec.dataset,
                      num_samples=int(plan.preset["eval_samples"]), batch_size=int(plan.preset["eval_batch"]),
                      seed=run.spec.seed, device=plan.device, train_stats=train_stats,
                      inception_weights=plan.inception_weights)
    result = evaluate(ctx, list(plan.preset["metrics"]))
    # grid: the first captions of distinct test images, several z each
    n_cap, n_z = min(int(plan.preset["grid_captions"]), len(split)), int(plan.preset["grid_samples"])
    step = max(len(split) // n_cap, 1)
    cap_ids = [int(split.caption_ids[i * step, 0]) for i in range(n_cap)]
    captions = [split.captions[c] for c in cap_ids]
    rows = generate_rows(run.model, table[cap_ids], n_z, seed=run.spec.seed)
    grid = save_grid(run_dir / "samples.png", rows, captions)
    values = result["values"]
    rates = train_stats.get("train_images_per_s") or {}
    throughput = {**{f"train_images_per_s.{k}": v for k, v in rates.items()},
                  "sample_images_per_s": values.get("sample-throughput"),
                  "speed": train_stats.get("speed"), "dtype": train_stats.get("dtype"),
                  "batch_size": train_stats.get("batch_size"), "device": train_stats.get("device_name")}
    return {"metrics": values, "unavailable": result["unavailable"], "metric_info": result["info"],
            "throughput": throughput, "peak_memory_mb": train_stats.get("peak_memory_mb"),
            "samples": {"grid": str(grid), "captions": captions}}


def _curve_points(run_dir: Path) -> list[tuple[int, str, float]]:
    log = run_dir / "log.jsonl"
    points = []
    if log.exists():
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            step = int(rec.pop("step"))
            rec.pop("epoch", None)
            points += [(step, k, float(v)) for k, v in rec.items()]
    return points


def _echo_row(row: dict) -> None:
    m = row.get("metrics") or {}
    shown = {k: v for k, v in m.items() if isinstance(v, (int, float)) and "." not in k}
    brief = ", ".join(f"{k}={v:.3g}" for k, v in list(shown.items())[:6])
    click.echo(f"[{row['status']}] {row['model']}{'[' + row['variant'] + ']' if row['variant'] else ''} "
               f"seed {row['seed']}: {brief}{' - ' + row['reason'] if row.get('reason') else ''}")


SUMMARY_METRICS = ["caption-accuracy.shape", "caption-accuracy.colour", "caption-accuracy.size",
                   "caption-accuracy.position", "caption-accuracy.background", "caption-accuracy.exact",
                   "r-precision", "fid", "kid", "domain-fid", "sample-throughput"]


def print_summary(store) -> None:
    """A compact end-of-bench table: one line per run, the headline metrics."""
    import pandas as pd

    df = store.runs()
    if df.empty:
        return
    cols = [f"metric.{m}" for m in SUMMARY_METRICS if f"metric.{m}" in df.columns and df[f"metric.{m}"].notna().any()]
    table = df[["model", "variant", "seed", "status"] + cols].copy()
    table.columns = [c.removeprefix("metric.").removeprefix("caption-accuracy.") for c in table.columns]
    with pd.option_context("display.width", 220, "display.max_columns", 30):
        click.echo("\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


def expand_models(text: str, default: list[str]) -> list[tuple[str, dict]]:
    from ganzoo.cli.options import parse_model_variant
    from ganzoo.registry import get_registry

    items = [t for t in _split_models(text)] if text else default
    out = []
    for item in items:
        if item == "all":
            out += [(n, {}) for n in get_registry().names("model")]
        else:
            out.append(parse_model_variant(item))
    if not out:
        raise UsageError("--models is empty; name at least one model (see `ganzoo list models`)")
    return out


def _split_models(text: str) -> list[str]:
    """Split ``a,b:k=v,j=w,c`` into models, keeping a variant's own commas."""
    parts, out = [p.strip() for p in text.split(",") if p.strip()], []
    for p in parts:
        if "=" in p and ":" not in p and out:
            out[-1] += "," + p  # belongs to the previous model's variant
        else:
            out.append(p)
    return out


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise UsageError("--seeds is empty")
    return seeds


def resolve_bench_device(device: str) -> str:
    return resolve_device(device)
