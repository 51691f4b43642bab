"""One run of a bench, in this process: train, evaluate, check for collapse, draw a sample grid.

:func:`run_one` is what a worker process (:mod:`ganzoo.worker`) executes; it never raises for
a run's own failure: the row says what happened.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ganzoo.bench_plan import BenchPlan, run_key
from ganzoo.collapse import detect_collapse
from ganzoo.env import environment
from ganzoo.errors import GanzooError, UsageError
from ganzoo.memory import release_free_memory
from ganzoo.runs import RunSpec, load_run


def run_one(plan: BenchPlan, spec: RunSpec, on_log=None) -> dict:
    """Train, evaluate and check one run in this process; returns its store row (never raises for a run's failure)."""
    from ganzoo.harness import train
    from ganzoo.store import portable_text
    from ganzoo.train_evals import bench_training_options

    run_dir = plan.out / "runs" / run_key(spec)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    row: dict[str, Any] = {
        "bench_id": plan.bench_id, "model": spec.model, "variant": spec.variant(), "dataset": spec.dataset,
        "preset": spec.preset, "seed": spec.seed, "budget": spec.budget_label(),
        "run_dir": f"runs/{run_dir.name}",  # relative to the output folder, as the store keeps it
        "command": plan.command, "started_at": started,
    }
    env = environment(plan.device)
    row.update(device=env["device_name"], versions=env["versions"], git_rev=plan.git_rev or env["git_rev"])
    t0 = time.perf_counter()
    try:
        resume = (run_dir / "checkpoint" / "state.json").exists() and plan.resume
        if (run_dir / "checkpoint" / "state.json").exists() and not plan.resume:
            raise UsageError(f"{run_dir} already exists; use --resume or another --out")
        result = train(replace(spec), run_dir, device=plan.device, resume=resume, progress=plan.progress,
                       on_log=on_log, **bench_training_options(plan.preset, plan.device, spec.seed, plan.eval_split))
        row.update(status=result.status, reason=result.reason, steps=result.steps,
                   images_seen=result.images_seen, config=json.loads((run_dir / "run.json").read_text())["config"])
        if result.status == "ok":  # a diverged run keeps its last good checkpoint, but is not scored
            release_free_memory()  # the evaluation's peak should not ride on what training left in the heap
            scored = evaluate_run(plan, run_dir, result.train_stats)
            collapsed = scored.pop("collapse", None)
            row.update(scored)
            if collapsed:  # metrics stay recorded; the status keeps the run out of every mean
                row.update(status="collapsed", reason=collapsed)
    except GanzooError as exc:
        row.update(status="failed", reason=str(exc))
    except Exception as exc:  # a crash in one model must not lose the others
        row.update(status="failed", reason=f"{type(exc).__name__}: {exc} (traceback in runs/{run_dir.name}/error.txt)")
        (run_dir / "error.txt").parent.mkdir(parents=True, exist_ok=True)
        (run_dir / "error.txt").write_text(portable_text(traceback.format_exc(), plan.out))
    row["wall_time_s"] = time.perf_counter() - t0
    row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return row


def evaluate_run(plan: BenchPlan, run_dir: Path, train_stats: dict) -> dict:
    """Metrics, throughput, memory and a sample grid of a trained run, as store-row fields."""
    from ganzoo.grid import generate_rows, save_grid
    from ganzoo.metrics import EvalContext, evaluate

    from ganzoo.resize import at_size
    from ganzoo.store import relative_path

    run = load_run(run_dir, device=plan.device)
    # arms of an ablation with different output sizes are all judged at the largest
    run.model = at_size(run.model, plan.preset.get("eval_image_size"))
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
    rows = generate_rows(run.model, table[cap_ids], n_z, seed=run.spec.seed, captions=captions)
    grid = save_grid(run_dir / "samples.png", rows, captions)
    values = result["values"]
    collapse = detect_collapse(run.model, table, run.spec.seed, captions=list(split.captions))
    rates = train_stats.get("train_images_per_s") or {}
    throughput = {**{f"train_images_per_s.{k}": v for k, v in rates.items()},
                  "sample_images_per_s": _sample_throughput(result),
                  "speed": train_stats.get("speed"), "dtype": train_stats.get("dtype"),
                  "batch_size": train_stats.get("batch_size"), "device": train_stats.get("device_name")}
    return {"metrics": values, "unavailable": result["unavailable"], "metric_info": result["info"],
            "throughput": throughput, "peak_memory_mb": train_stats.get("peak_memory_mb"),
            "samples": {"grid": relative_path(Path(grid).resolve(), Path(plan.out).resolve()), "captions": captions},
            "collapse": collapse}


def _sample_throughput(result: dict) -> float | None:
    """The value of the metric that declares itself the sampling cost (``ROLE_SAMPLE_COST``), if measured."""
    from ganzoo.metrics import ROLE_SAMPLE_COST

    for name, info in result["info"].items():
        if isinstance(info, dict) and (info.get("report") or {}).get("role") == ROLE_SAMPLE_COST:
            return result["values"].get(name)
    return None
