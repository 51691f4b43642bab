"""A run: what was asked for (RunSpec), where it lives on disk, and how to load it back.

Run directory layout::

    RUN/run.json        spec, resolved model config, environment, command, seed
    RUN/text.safetensors  the text standardiser fitted on the training captions
    RUN/checkpoint/     see ganzoo.checkpoint
    RUN/log.jsonl       losses every log_every steps
    RUN/result.json     final status, throughput, metrics (written when the run ends)
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ganzoo.checkpoint import atomic_save_tensors, atomic_write_text, load_checkpoint
from ganzoo.errors import GanzooError, UsageError
from ganzoo.registry import get_registry
from ganzoo.run_settings import run_default
from ganzoo.text import Standardiser, cached_embeddings, check_captions

RUN_FILE = "run.json"


def _default(key: str):
    """A field default read from the one defaults table (:mod:`ganzoo.run_settings`)."""
    return field(default_factory=lambda: run_default(key))


@dataclass
class RunSpec:
    """Everything that defines a training run (and nothing about where it runs).

    Commands build one with :func:`ganzoo.run_builder.build_run_spec`; fields left out here
    take the defaults table's values.
    """

    model: str
    preset: str | None = _default("preset")
    overrides: dict[str, Any] = field(default_factory=dict)
    dataset: str = _default("dataset")
    dataset_options: dict[str, Any] = field(default_factory=dict)
    text_encoder: str | None = None  # None: the dataset's default
    text_norm: str = _default("text_norm")
    text_norm_dim: int = _default("text_norm_dim")
    seed: int = 0
    steps: int | None = None
    epochs: int | None = None
    time_budget_s: float | None = None
    images_budget: int | None = None
    checkpoint_every: int = _default("checkpoint_every")
    log_every: int = _default("log_every")
    num_workers: int = _default("num_workers")
    deterministic: bool = True
    speed: dict[str, Any] = field(default_factory=dict)  # ganzoo.speed.SpeedOptions fields
    sync_bn: bool = False

    def validate(self) -> None:
        for name in ("steps", "epochs", "images_budget"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UsageError(f"--{name.replace('_budget', '').replace('_', '-')} must be positive, got {value}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise UsageError(f"time budget must be positive, got {self.time_budget_s}s")
        if self.checkpoint_every <= 0 or self.log_every <= 0:
            raise UsageError("checkpoint and log intervals must be positive")
        if self.num_workers < 0:
            raise UsageError("--num-workers must be >= 0")

    def budget_label(self) -> str:
        parts = []
        if self.steps:
            parts.append(f"steps={self.steps}")
        if self.epochs:
            parts.append(f"epochs={self.epochs}")
        if self.time_budget_s:
            parts.append(f"time={self.time_budget_s:g}s")
        if self.images_budget:
            parts.append(f"images={self.images_budget}")
        return ",".join(parts) or "unbounded"

    def variant(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.overrides.items()))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "RunSpec":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_record(self, base: str | Path) -> dict:
        """:meth:`to_json` as a file in folder ``base`` records it: ``dataset_options["data_dir"]``
        relative to ``base`` (:func:`ganzoo.store.relative_path`), so the file names no folder of the machine."""
        from ganzoo.store import relative_path

        data = self.to_json()
        data_dir = data["dataset_options"].get("data_dir")
        if isinstance(data_dir, (str, Path)) and str(data_dir).strip():
            data["dataset_options"]["data_dir"] = relative_path(data_dir, Path(base).resolve())
        return data

    @classmethod
    def from_record(cls, data: dict, base: str | Path) -> "RunSpec":
        """The spec :meth:`to_record` wrote in folder ``base``, its ``data_dir`` absolute again
        (:func:`ganzoo.store.resolve_path`; an absolute one, from older files, is kept as it is)."""
        from ganzoo.store import resolve_path

        options = data.get("dataset_options")
        data_dir = options.get("data_dir") if isinstance(options, dict) else None
        if isinstance(data_dir, str) and data_dir.strip():
            resolved = str(resolve_path(data_dir, Path(base).resolve()))
            data = {**data, "dataset_options": {**options, "data_dir": resolved}}
        return cls.from_json(data)

    def matches_record(self, data: Any, base: str | Path) -> bool:
        """Whether ``data``, a spec recorded by a file in ``base``, is this spec (also as older files wrote it)."""
        return data == self.to_record(base) or data == self.to_json()


class Conditioner:
    """Caption -> model conditioning vector: a text encoder followed by the run's standardiser."""

    def __init__(self, encoder, standardiser: Standardiser, encoder_name: str):
        self.encoder, self.standardiser, self.encoder_name = encoder, standardiser, encoder_name

    @property
    def dim(self) -> int:
        return self.standardiser.out_dim

    def split_table(self, split) -> torch.Tensor:
        return self.standardiser(cached_embeddings(self.encoder, split))

    def encode(self, captions: list[str]) -> torch.Tensor:
        check_captions(captions)
        return self.standardiser(self.encoder.encode(captions))

    @classmethod
    def fit(cls, spec: RunSpec, train_split) -> "Conditioner":
        encoder = get_registry().text_encoder(spec.text_encoder)
        raw = cached_embeddings(encoder, train_split)
        return cls(encoder, Standardiser.fit(raw, spec.text_norm, spec.text_norm_dim), spec.text_encoder)

    def save(self, path: Path) -> None:
        atomic_save_tensors(self.standardiser.state(), path)

    @classmethod
    def load(cls, path: Path, spec: RunSpec) -> "Conditioner":
        encoder = get_registry().text_encoder(spec.text_encoder)
        state = load_file(str(path))
        return cls(encoder, Standardiser.from_state(state, spec.text_norm), spec.text_encoder)


def command_line() -> str:
    return " ".join(["ganzoo"] + sys.argv[1:]) if sys.argv else "ganzoo"


def write_run_file(run_dir: Path, spec: RunSpec, config: dict, env: dict, extra: dict | None = None) -> None:
    from ganzoo.store import portable_text

    run_dir.mkdir(parents=True, exist_ok=True)
    # the command without the machine's folders: ``--out <out>`` for this run folder, others relative to it
    data = {"spec": spec.to_record(run_dir), "config": config, "environment": env,
            "command": portable_text(command_line(), run_dir),
            **(extra or {})}
    atomic_write_text(run_dir / RUN_FILE, json.dumps(data, indent=1, default=str))


def read_run_file(run_dir: Path) -> dict:
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        raise GanzooError(f"{run_dir} is not a ganzoo run directory (no {RUN_FILE}); "
                          "pass the directory `ganzoo train --out` wrote")
    try:
        record = json.loads(path.read_text())
    except (ValueError, OSError) as exc:  # invalid JSON, not UTF-8 text, unreadable
        kind = "invalid JSON" if isinstance(exc, ValueError) else exc.strerror or type(exc).__name__
        raise GanzooError(f"{path} is damaged ({kind})") from None
    _check_run_record(record, path)
    return record


def _check_run_record(record: Any, path: Path) -> None:
    """A one-line GanzooError saying what is damaged when run.json lacks what a run needs."""
    if not isinstance(record, dict):
        raise GanzooError(f"{path} is damaged: expected a JSON object, found {type(record).__name__}")
    spec = record.get("spec")
    if not isinstance(spec, dict):
        raise GanzooError(f"{path} is damaged: no 'spec' object (the run's model, dataset and seed)")
    for key, kind in (("model", str), ("dataset", str), ("overrides", dict), ("dataset_options", dict)):
        if key in spec and not isinstance(spec[key], kind) or key == "model" and key not in spec:
            raise GanzooError(f"{path} is damaged: 'spec.{key}' is missing or not a {kind.__name__}")
    try:
        RunSpec.from_json(spec)
    except (TypeError, ValueError) as exc:
        raise GanzooError(f"{path} is damaged: 'spec' does not describe a run ({exc})") from None
    if not isinstance(record.get("config"), dict):
        raise GanzooError(f"{path} is damaged: no 'config' object (the model's resolved configuration)")


@dataclass
class LoadedRun:
    run_dir: Path
    record: dict
    spec: RunSpec
    model: Any
    dataset: Any
    conditioner: Conditioner
    harness_state: dict

    def embeddings(self, split) -> torch.Tensor:
        return self.conditioner.split_table(split)

    @property
    def train_stats(self) -> dict:
        result = Path(self.run_dir) / "result.json"
        if result.exists():
            try:
                stats = json.loads(result.read_text()).get("train_stats", {})
            except (ValueError, AttributeError):
                raise GanzooError(f"{result} is damaged (not the JSON object a finished run writes)") from None
            return stats if isinstance(stats, dict) else {}
        return {}


def load_run(run_dir: str | Path, device: str = "cpu") -> LoadedRun:
    """Rebuild a trained model (eval mode) with its dataset and text conditioner."""
    run_dir = Path(run_dir)
    record = read_run_file(run_dir)
    spec = RunSpec.from_record(record["spec"], run_dir)
    reg = get_registry()
    model_cls = reg.model(spec.model)
    dataset = reg.dataset(spec.dataset, **spec.dataset_options)
    text_path = run_dir / "text.safetensors"
    if not text_path.exists():
        raise GanzooError(f"{run_dir} lacks text.safetensors; the run did not finish its set-up")
    conditioner = Conditioner.load(text_path, spec)
    from ganzoo.conditioning import model_kwargs, run_vocabulary  # word-level models get their vocabulary

    # keys the model gained after this run was trained take their defaults, which keep the old behaviour
    config = {**model_cls.defaults_and_presets()[0], **record["config"]}
    try:
        model = model_cls(config, text_dim=conditioner.dim, device=device,
                          **model_kwargs(model_cls, run_vocabulary(run_dir, model_cls)))
    except (UsageError, KeyError, TypeError, ValueError) as exc:  # config edited or truncated by hand
        what = f"config key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise GanzooError(f"{run_dir / RUN_FILE} is damaged: its 'config' does not build a "
                          f"{spec.model} model ({what})") from None
    harness = load_checkpoint(run_dir / "checkpoint", model, with_optimizers=False)
    model.eval()
    return LoadedRun(run_dir, record, spec, model, dataset, conditioner, harness)
