"""Options shared by the training commands (train, bench, ablate), and their translation into
:func:`ganzoo.run_builder.build_run_spec` keywords.

An option left unset is ``None`` here: the run builder takes its value from the defaults
table overlaid by the bench preset (:mod:`ganzoo.run_settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ganzoo.config import parse_overrides
from ganzoo.run_settings import run_default


def _apply(f, decorators):
    for d in reversed(decorators):
        f = d(f)
    return f


def dataset_options(data_dir, items=()) -> dict:
    """``--data-dir`` plus ``--dataset-opt key=value`` pairs, passed to the dataset factory.

    The data folder is kept absolute (files record it relative to themselves: :meth:`RunSpec.to_record`).
    """
    options = {k: v for k, v in parse_overrides(items).items()}
    if data_dir:
        options["data_dir"] = data_dir
    if isinstance(options.get("data_dir"), str) and options["data_dir"].strip():
        options["data_dir"] = str(Path(options["data_dir"]).expanduser().resolve())
    return options


def training_options(f):
    """Options every training command takes."""
    return _apply(f, [
        click.option("--dataset", default=run_default("dataset"), show_default=True, help="Dataset plugin name."),
        click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="Folder of a real dataset (cub, oxford102, coco)."),
        click.option("--dataset-opt", "dataset_opts", multiple=True, metavar="KEY=VALUE",
                     help="Dataset option (repeatable), e.g. n_train=5000 for shapes, cache=true for cub."),
        click.option("--preset", default=run_default("preset"), show_default=True, help="Model preset: cpu or paper."),
        click.option("--text-encoder", default=None,
                     help=f"Text encoder plugin (default: the dataset's, e.g. precomputed for datasets that ship "
                          f"embeddings; else {run_default('text_encoder')})."),
        click.option("--text-norm", type=click.Choice(["none", "zscore", "whiten"]), default=None,
                     help="Standardisation of caption embeddings, fitted on training captions "
                          "(default: the bench preset's; whiten for cpu, none for paper)."),
        click.option("--steps", type=int, default=None, help="Training steps per run."),
        click.option("--epochs", type=int, default=None, help="Training epochs per run."),
        click.option("--budget", default=None, help="Per-run budget: time (90s, 4m, 1h) or images seen (200k)."),
        click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto."),
        click.option("--num-workers", type=int, default=None,
                     help=f"DataLoader worker processes.  [default: {run_default('num_workers')}]"),
        click.option("--checkpoint-every", type=int, default=None,
                     help=f"Steps between checkpoints (default: the bench preset's, else "
                          f"{run_default('checkpoint_every')})."),
        click.option("--no-progress", is_flag=True, help="Hide progress bars."),
        click.option("--amp", type=click.Choice(["none", "bf16", "fp16"]), default="none", show_default=True,
                     help="Autocast dtype for training steps."),
        click.option("--channels-last", is_flag=True, help="channels_last memory format for networks and images."),
        click.option("--compile", "compile_", is_flag=True, help="torch.compile every network."),
        click.option("--cudnn-benchmark", is_flag=True, help="cuDNN autotuning (GPU)."),
        click.option("--tf32", is_flag=True, help="TF32 matmuls and convolutions (Ampere+ GPUs)."),
        click.option("--sync-bn", is_flag=True, help="SyncBatchNorm across ranks under torchrun (GPU)."),
    ])


def speed_options(amp, channels_last, compile_, cudnn_benchmark, tf32) -> dict:
    return {"amp": amp, "channels_last": channels_last, "compile": compile_,
            "cudnn_benchmark": cudnn_benchmark, "tf32": tf32}


def run_spec_fields(options: dict[str, Any]) -> dict[str, Any]:
    """Pop the :func:`training_options` that define a run from ``options`` (a command's keyword
    arguments) and return them as :func:`ganzoo.run_builder.build_run_spec` keywords; ``device``
    and ``no_progress`` stay in ``options``."""
    pop = options.pop
    return {
        "preset": pop("preset"), "dataset": pop("dataset"),
        "dataset_options": dataset_options(pop("data_dir"), pop("dataset_opts")),
        "text_encoder": pop("text_encoder"), "text_norm": pop("text_norm"), "num_workers": pop("num_workers"),
        "checkpoint_every": pop("checkpoint_every"), "sync_bn": pop("sync_bn"),
        "speed": speed_options(pop("amp"), pop("channels_last"), pop("compile_"), pop("cudnn_benchmark"),
                               pop("tf32")),
        "steps": pop("steps"), "epochs": pop("epochs"), "budget": pop("budget"),
    }


def bench_run_options(f):
    """Options of the commands that run a bench of runs, evaluate and report them (bench, ablate)."""
    return _apply(f, [
        click.option("--resume", is_flag=True, help="Skip runs already in the store; continue an interrupted run."),
        click.option("--inception-weights", type=click.Path(dir_okay=False, exists=True), default=None,
                     help="torch-fidelity InceptionV3 weights (enables IS; default: offline FID weights, IS "
                          "unavailable)."),
        click.option("--eval-samples", type=int, default=None, help="Generated samples per metric (preset default)."),
        click.option("--metrics", "metric_list", default=None, metavar="A,B,...",
                     help="Metrics to compute (default: the preset's); '+a,b' adds to the preset's. Any installed "
                          "metric, with the column its plugin declares."),
        click.option("--eval-every", type=str, default=None, metavar="IMAGES",
                     help="Measure the cheap metrics every IMAGES images seen during training (e.g. 16k; 0: off; "
                          "default: the preset's); the report plots them against images seen and wall time."),
        click.option("--jobs", default="1", show_default=True,
                     help="Runs at once, each in its own worker process; 'auto': one per GPU on a GPU machine, "
                          "else 1."),
        click.option("--threads", type=int, default=None,
                     help="Torch threads per run (default: the cores shared out among the --jobs)."),
        click.option("--run-timeout", type=float, default=None, metavar="SECONDS",
                     help="Kill a run still going after SECONDS and record it as failed; the bench goes on."),
        click.option("--run-memory-limit", "run_memory_mb", type=float, default=None, metavar="MB",
                     help="Memory per run (data segment, MB); a run that needs more is recorded as failed."),
        click.option("--allow-failures", is_flag=True,
                     help="Exit 0 even when runs failed, diverged or collapsed (default: exit 1 after the report)."),
    ])


def apply_report_options(settings: dict, metric_list: str | None, eval_every: str | None, tensorboard: bool) -> None:
    """``--metrics``, ``--eval-every`` and ``--tensorboard`` into the bench settings (checked here, before any run)."""
    import re

    from ganzoo.errors import UsageError

    if metric_list is not None:
        add = metric_list.strip().startswith("+")
        names = [n.strip() for n in metric_list.strip().lstrip("+").split(",") if n.strip()]
        if not names:
            raise UsageError("--metrics is empty; name at least one metric (see `ganzoo list metrics`)")
        settings["metrics"] = list(dict.fromkeys((list(settings.get("metrics", [])) if add else []) + names))
    if eval_every is not None:
        found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmM]?)", eval_every.strip())
        if found is None and eval_every.strip().lower() != "off":
            raise UsageError(f"--eval-every must be a number of images seen (e.g. 16000, 16k, or 0), got {eval_every!r}")
        scale = {"": 1, "k": 1_000, "m": 1_000_000}[found.group(2).lower()] if found else 0
        settings["eval_every"] = int(float(found.group(1)) * scale) if found else 0
    if tensorboard:
        from ganzoo.tensorboard import check_available

        check_available()
        settings["tensorboard"] = True


def bench_settings(preset: str, options: dict[str, Any], tensorboard: bool = False) -> dict[str, Any]:
    """The bench preset's settings with ``--eval-samples``, ``--metrics`` and ``--eval-every`` (popped
    from ``options``) applied."""
    from ganzoo.errors import UsageError
    from ganzoo.run_settings import bench_preset

    settings = dict(bench_preset(preset))
    eval_samples = options.pop("eval_samples")
    if eval_samples is not None:
        if eval_samples <= 0:
            raise UsageError(f"--eval-samples must be positive, got {eval_samples}")
        settings["eval_samples"] = eval_samples
    apply_report_options(settings, options.pop("metric_list"), options.pop("eval_every"), tensorboard)
    return settings


def bench_plan_fields(options: dict[str, Any]) -> dict[str, Any]:
    """The :class:`ganzoo.bench.BenchPlan` keywords from the :func:`bench_run_options`, ``--device``,
    ``--no-progress`` and the launcher options, all popped from ``options``."""
    from pathlib import Path

    from ganzoo.launchers.options import launcher_fields, resolve_launcher_device
    from ganzoo.worker import resolve_jobs

    pop = options.pop
    common = {"resume": pop("resume"), "progress": not pop("no_progress"), "threads": pop("threads"),
              "run_timeout": pop("run_timeout"), "run_memory_mb": pop("run_memory_mb")}
    weights, jobs, device = pop("inception_weights"), pop("jobs"), pop("device")
    fields = launcher_fields(**options)  # --launcher, --slurm-*, --gpus-per-run, --shard: whatever is left
    options.clear()
    device = resolve_launcher_device(device, fields)
    return {**common, **fields, "device": device, "jobs": resolve_jobs(jobs, device),
            "inception_weights": Path(weights) if weights else None}
