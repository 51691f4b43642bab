"""Options and parsing shared by the training commands (train, bench, ablate)."""

from __future__ import annotations

import click

from ganzoo.budget import parse_budget
from ganzoo.config import parse_overrides
from ganzoo.errors import UsageError
from ganzoo.registry import get_registry
from ganzoo.runs import RunSpec


def parse_model_variant(text: str) -> tuple[str, dict[str, str]]:
    """``"stackgan:ca=false,gf_dim=8"`` -> ``("stackgan", {"ca": "false", "gf_dim": "8"})``."""
    name, _, rest = text.strip().partition(":")
    overrides = parse_overrides([p for p in rest.split(",") if p.strip()]) if rest else {}
    get_registry().get("model", name)  # unknown names fail here, listing the valid ones
    return name, overrides


def apply_budget(spec: RunSpec, steps, epochs, budget) -> RunSpec:
    if steps is not None and steps <= 0:
        raise UsageError(f"--steps must be a positive number of training steps, got {steps}")
    if epochs is not None and epochs <= 0:
        raise UsageError(f"--epochs must be positive, got {epochs}")
    spec.steps, spec.epochs = steps, epochs
    if budget:
        kind, value = parse_budget(budget)
        if kind == "time":
            spec.time_budget_s = value
        else:
            spec.images_budget = int(value)
    return spec


def dataset_options(data_dir, items=()) -> dict:
    """``--data-dir`` plus ``--dataset-opt key=value`` pairs, passed to the dataset factory."""
    options = {k: v for k, v in parse_overrides(items).items()}
    if data_dir:
        options["data_dir"] = str(data_dir)
    return options


def training_options(f):
    """Options every training command takes."""
    decorators = [
        click.option("--dataset", default="shapes", show_default=True, help="Dataset plugin name."),
        click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="Folder of a real dataset (cub, oxford102, coco)."),
        click.option("--dataset-opt", "dataset_opts", multiple=True, metavar="KEY=VALUE",
                     help="Dataset option (repeatable), e.g. n_train=5000 for shapes, cache=true for cub."),
        click.option("--preset", default="cpu", show_default=True, help="Model preset: cpu or paper."),
        click.option("--text-encoder", default=None, help="Text encoder plugin (default: minilm; precomputed for datasets that ship embeddings)."),
        click.option("--text-norm", type=click.Choice(["none", "zscore", "whiten"]), default=None,
                     help="Standardisation of caption embeddings, fitted on training captions "
                          "(default: the bench preset's; whiten for cpu, none for paper)."),
        click.option("--steps", type=int, default=None, help="Training steps per run."),
        click.option("--epochs", type=int, default=None, help="Training epochs per run."),
        click.option("--budget", default=None, help="Per-run budget: time (90s, 4m, 1h) or images seen (200k)."),
        click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto."),
        click.option("--num-workers", type=int, default=0, show_default=True, help="DataLoader worker processes."),
        click.option("--checkpoint-every", type=int, default=500, show_default=True, help="Steps between checkpoints."),
        click.option("--no-progress", is_flag=True, help="Hide progress bars."),
        click.option("--amp", type=click.Choice(["none", "bf16", "fp16"]), default="none", show_default=True,
                     help="Autocast dtype for training steps."),
        click.option("--channels-last", is_flag=True, help="channels_last memory format for networks and images."),
        click.option("--compile", "compile_", is_flag=True, help="torch.compile every network."),
        click.option("--cudnn-benchmark", is_flag=True, help="cuDNN autotuning (GPU)."),
        click.option("--tf32", is_flag=True, help="TF32 matmuls and convolutions (Ampere+ GPUs)."),
        click.option("--sync-bn", is_flag=True, help="SyncBatchNorm across ranks under torchrun (GPU)."),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def speed_options(amp, channels_last, compile_, cudnn_benchmark, tf32) -> dict:
    return {"amp": amp, "channels_last": channels_last, "compile": compile_,
            "cudnn_benchmark": cudnn_benchmark, "tf32": tf32}
