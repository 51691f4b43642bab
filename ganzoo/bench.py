"""`ganzoo bench`: every listed model, trained and evaluated under one harness, one store, one report.

The whole request is checked first (:func:`validate_plan`): a bad model key or value, dataset
name, dataset option or data folder stops the bench before anything is written. Then each
(model, variant, seed) is one run in its own worker process (:mod:`ganzoo.worker`): trained by
:func:`ganzoo.harness.train`, evaluated by :func:`ganzoo.metrics.evaluate`, checked for
collapse, illustrated by a sample grid; the bench process alone writes the rows of the SQLite
store, in the plan's order. A failure, divergence, collapse, crash, kill or timeout is a row
too, never a gap. A bench started again with ``--resume`` skips the runs already in the store
and resumes the interrupted one from its checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

# BenchPlan and the run names (ganzoo.bench_plan), one run (ganzoo.bench_run) and the presets
# (ganzoo.run_settings) live in their own modules; they are re-exported here for callers
from ganzoo.bench_plan import (BenchPlan, RunsNotOkError, curve_points, echo_row, run_key,  # noqa: F401
                               store_key)
from ganzoo.bench_run import evaluate_run, run_one  # noqa: F401
from ganzoo.env import environment, resolve_device
from ganzoo.errors import GanzooError, UsageError
from ganzoo.run_settings import bench_preset, bench_presets  # noqa: F401
from ganzoo.runs import RunSpec


def validate_plan(plan: BenchPlan) -> None:
    """Check the whole request before any run starts; a :class:`UsageError` names what is wrong.

    Every variant's keys and values (through the model's config resolution and ``validate``),
    budgets, text encoders, dataset names and options, data folders (present, not empty, and
    readable by the dataset), batch sizes against the training split, speed options and
    bench settings. Writes nothing.
    """
    from ganzoo.harness import resolve_model_config
    from ganzoo.registry import get_registry
    from ganzoo.speed import SpeedOptions

    if not plan.specs:
        raise UsageError("nothing to run: the plan has no runs")
    from ganzoo.launchers import check_launcher

    check_launcher(plan)  # --launcher (submitit installed, SLURM options), --shard
    if int(plan.jobs) < 1:
        raise UsageError(f"--jobs must be a positive number or 'auto', got {plan.jobs}")
    if plan.run_memory_mb is not None and plan.run_memory_mb <= 0:
        raise UsageError(f"--run-memory-limit must be a positive number of MB, got {plan.run_memory_mb:g}")
    if plan.run_timeout is not None and plan.run_timeout <= 0:
        raise UsageError(f"--run-timeout must be a positive number of seconds, got {plan.run_timeout:g}")
    if plan.threads is not None and plan.threads < 1:
        raise UsageError(f"--threads must be positive, got {plan.threads}")
    if plan.inception_weights is not None and not Path(plan.inception_weights).is_file():
        raise UsageError(f"--inception-weights {plan.inception_weights} is not a file")
    if plan.out.exists() and not plan.out.is_dir():
        raise UsageError(f"--out {plan.out} exists and is not a folder")
    reg = get_registry()
    for name in plan.preset.get("metrics", []):
        reg.get("metric", name)
    datasets: dict[str, Any] = {}
    for spec in plan.specs:
        spec.validate()
        if not any([spec.steps, spec.epochs, spec.time_budget_s, spec.images_budget]):
            raise UsageError("give a training budget: --steps, --epochs or --budget")
        model_cls, config = resolve_model_config(spec)  # unknown keys (nearest named), bad values
        model_batch = _validate_model_config(model_cls, config)
        SpeedOptions.from_json(spec.speed).validate(plan.device)
        if spec.text_encoder is not None:
            reg.get("text encoder", spec.text_encoder)
        key = json.dumps([spec.dataset, spec.dataset_options], sort_keys=True, default=str)
        if key not in datasets:
            reg.get("dataset", spec.dataset)  # unknown names list the valid ones
            _check_data_dir(spec)
            datasets[key] = reg.dataset(spec.dataset, **spec.dataset_options)
        n_train = len(datasets[key].split("train"))
        batch = model_batch if model_batch is not None else config.get("batch_size")
        if isinstance(batch, int) and batch > n_train:
            raise UsageError(f"{spec.model}: its batch of {batch} is larger than the {n_train} training images "
                             f"of {spec.dataset}; lower it (e.g. {spec.model}:batch_size={max(n_train // 2, 1)})")


def _validate_model_config(model_cls, config: dict) -> int | None:
    """The model's own range checks (``GanzooModel.validate``) without building its networks;
    returns the batch the model will train with, when it can tell without being built."""
    probe = object.__new__(model_cls)
    probe.config = dict(config)
    try:
        model_cls.validate(probe, dict(config))
    except GanzooError:
        raise
    except Exception:  # a validate that needs a built model: the run itself reports it
        pass
    try:
        batch = probe.batch_size  # e.g. a two-stage model's batch differs from config["batch_size"]
        return int(batch) if batch is not None else None
    except Exception:
        return None


def _check_data_dir(spec: RunSpec) -> None:
    data_dir = spec.dataset_options.get("data_dir")
    if data_dir is None or str(data_dir).strip() == "":
        return  # the dataset says whether it needs one
    path = Path(str(data_dir)).expanduser()
    if not path.exists():
        raise UsageError(f"--data-dir {data_dir} does not exist (dataset {spec.dataset})")
    if not path.is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a folder (dataset {spec.dataset})")
    if not any(path.iterdir()):
        raise UsageError(f"--data-dir {data_dir} is empty; dataset {spec.dataset} needs its files there "
                         f"(check a folder with `ganzoo data check PATH --dataset {spec.dataset}`)")


def _check_leftovers(plan: BenchPlan) -> None:
    """Without --resume, a run folder holding a checkpoint but no row would be silently mixed in."""
    if plan.resume:
        return
    store_path = plan.out / "results.sqlite"
    done = set()
    if store_path.is_file():
        from ganzoo.store import ResultStore

        done = ResultStore(store_path, create=False).finished_keys()
    for spec in plan.specs:
        run_dir = plan.out / "runs" / run_key(spec)
        if store_key(plan, spec) not in done and (run_dir / "checkpoint" / "state.json").exists():
            raise UsageError(f"{run_dir} already holds an unfinished run; pass --resume to continue it "
                             f"or choose another --out")


def run_bench(plan: BenchPlan) -> dict:
    """Train, evaluate and record every run of ``plan``; then export and report. Returns paths.

    The request is validated first (nothing is written when it is bad); each run then goes
    to a worker process unless ``plan.isolate`` is off or torchrun started several ranks.
    """
    from ganzoo import distributed
    from ganzoo.env import git_revision
    from ganzoo.store import ResultStore, portable_text

    validate_plan(plan)
    if not distributed.info().is_main:
        return _train_only(plan)
    if plan.shard is not None:  # rows go to the run folders; `ganzoo report OUT` gathers the shards
        from ganzoo.launchers.shards import run_shard

        return run_shard(plan)
    _check_leftovers(plan)
    plan.command = portable_text(plan.command, plan.out)
    if plan.git_rev is None:
        plan.git_rev = git_revision()
    plan.out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(plan.out / "results.sqlite")
    done = store.finished_keys()
    todo = []
    for spec in plan.specs:
        if store_key(plan, spec) in done:
            click.echo(f"skip {run_key(spec)}: already in the store")
        else:
            todo.append(spec)

    def record(spec: RunSpec, row: dict) -> None:
        run_id = store.add_run(row)
        curves = curve_points(plan.out / "runs" / run_key(spec))
        if curves:
            store.add_curve_points(run_id, curves)
        echo_row(row)

    if plan.isolate and not distributed.info().enabled:
        from ganzoo.launchers.dispatch import launch

        launch(plan, todo, record)  # worker processes here, or SLURM jobs
    else:
        for spec in todo:
            record(spec, run_one(plan, spec))
    return finish(plan, store)


def plan_outcome(plan: BenchPlan) -> list[dict]:
    """The store rows of ``plan``'s runs that did not end ok (failed, diverged, collapsed), in plan order."""
    from ganzoo.store import ResultStore

    path = plan.out / "results.sqlite"
    if not path.is_file():
        return []
    runs = ResultStore(path, create=False).runs()
    wanted = [store_key(plan, spec) for spec in plan.specs]
    bad = []
    for key in wanted:
        rows = runs[(runs["bench_id"] == key[0]) & (runs["model"] == key[1]) & (runs["variant"].fillna("") == key[2])
                    & (runs["seed"] == key[3])]
        if len(rows) and rows.iloc[-1]["status"] != "ok":
            bad.append(rows.iloc[-1].to_dict())
    return bad


def raise_for_outcome(plan: BenchPlan, report_path: Any = None) -> None:
    """One-line error (exit 1) when any run of ``plan`` did not end ok; what ``--allow-failures`` skips."""
    bad = plan_outcome(plan)
    if not bad:
        return
    counts: dict[str, int] = {}
    for row in bad:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    where = f"; the report lists why: {report_path}" if report_path else ""
    raise RunsNotOkError(f"{len(bad)} of {len(plan.specs)} runs did not end ok ({summary}){where} "
                         f"(--allow-failures exits 0)")


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
    from ganzoo.env import git_revision
    from ganzoo.report import build_report
    from ganzoo.store import portable_text

    store.export(plan.out)
    slurm = plan.launcher == "slurm"  # the runs' GPUs are on the cluster's nodes, not here
    env = environment("cpu" if slurm else plan.device)
    env["git_rev"] = plan.git_rev or git_revision()  # the one revision of the whole bench
    if slurm:
        from ganzoo.launchers.slurm import report_device_name

        env["device"] = plan.device
        env["device_name"] = report_device_name(plan, store, env["device_name"])
    elif plan.isolate:
        env["device_name"] = _worker_device_name(plan, env["device_name"])
    written = build_report(store, plan.out / "report", title=f"ganzoo bench {plan.bench_id}",
                           command=portable_text(plan.command, plan.out), environment=env)
    print_summary(store)
    return written


def _worker_device_name(plan: BenchPlan, name: str) -> str:
    """The device line as the workers saw it: their thread count, not the bench process's."""
    import re

    from ganzoo.worker import resolve_jobs, threads_per_worker

    jobs = resolve_jobs(plan.jobs, plan.device)
    threads = threads_per_worker(jobs, plan.threads)
    name = re.sub(r"\d+ threads\)$", f"{threads} threads per run, {jobs} run(s) at once)", name)
    return name


def print_summary(store) -> None:
    """A compact end-of-bench table: one line per run, the headline metrics (as their metrics declare them)."""
    import pandas as pd

    from ganzoo.report import columns

    df = store.runs()
    if df.empty:
        return
    cols = columns.headline_metrics(df)
    shown = columns.presentations(df)
    table = df[["model", "variant", "seed", "status"] + cols].copy()
    table.columns = ["model", "variant", "seed", "status"] + [columns.header(c, titles=shown) for c in cols]
    with pd.option_context("display.width", 220, "display.max_columns", 30):
        click.echo("\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


def expand_models(text: str, default: list[str]) -> list[tuple[str, dict]]:
    from ganzoo.config import parse_model_variant
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
