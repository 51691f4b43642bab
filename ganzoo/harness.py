"""The training loop every model shares: data, seeds, budget, logging, checkpoints, divergence.

The harness never asks which model it runs: it calls ``model.train_step(batch)`` and
``model.end_epoch(epoch)``, and saves whatever ``model.networks()`` and
``model.optimizers()`` hold. :func:`train` is three steps: :func:`set_up` (data, text
conditioning, model, run files, loader), :func:`run_loop` (steps until the budget is spent)
and :func:`finish` (last checkpoint, last measurement, ``result.json``); measurements during
training live in :mod:`ganzoo.train_evals`.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from ganzoo import distributed
from ganzoo.checkpoint import atomic_write_text, load_checkpoint, save_checkpoint
from ganzoo.conditioning import VOCAB_FILE, Conditioning, Vocabulary, model_kwargs, wants_words
from ganzoo.data import EpochBatchSampler, TrainView, identity_collate
from ganzoo.env import environment, resolve_device, seed_everything
from ganzoo.errors import GanzooError, UsageError
from ganzoo.memory import PeakMemory
from ganzoo.registry import get_registry
from ganzoo.run_settings import run_default
from ganzoo.runs import Conditioner, RunSpec, read_run_file, write_run_file
from ganzoo.speed import SpeedOptions, apply_global, autocast, prepare_batch, prepare_model
from ganzoo.train_evals import InTraining, append_log
from ganzoo.train_evals import bench_training_options, periodic_evaluation  # noqa: F401  (re-exported)

#: test-only fault injection: the loss at this step becomes NaN (exercises divergence handling)
FAULT_NAN_ENV = "GANZOO_FAULT_NAN_AT_STEP"
WARMUP_STEPS = 3


@dataclass
class TrainResult:
    run_dir: Path
    status: str  # ok | diverged | failed
    reason: str
    steps: int
    epochs_done: float
    images_seen: int
    wall_time_s: float
    train_stats: dict = field(default_factory=dict)
    last_losses: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["run_dir"] = str(self.run_dir)
        return d


def result_record(result: TrainResult) -> dict:
    """``result.json``: the result without the machine's folders; ``run_dir`` is the folder the file is in (``.``)."""
    from ganzoo.store import portable_value

    record = portable_value(result.to_json(), result.run_dir)
    record["run_dir"] = "."
    return record


class Progress:
    """A tqdm bar with ETA and live losses (silent when disabled)."""

    def __init__(self, total: int | None, desc: str, enabled: bool, initial: int = 0):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, initial=initial, unit="step", dynamic_ncols=True,
                            leave=True, mininterval=0.5)

    def update(self, n: int, losses: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.update(n)
            if losses:
                self.bar.set_postfix({k: f"{v:.3g}" for k, v in list(losses.items())[:4]}, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def resolve_model_config(spec: RunSpec) -> tuple[type, dict]:
    """The model class and its resolved config; bad names, keys and values fail here, before any work."""
    model_cls = get_registry().model(spec.model)
    config = model_cls.make_config(spec.preset, spec.overrides, dataset=spec.dataset, name=spec.model)
    model_cls._validate_common(config)
    return model_cls, config


def _to_device(batch: dict, device: torch.device) -> dict:
    non_blocking = device.type == "cuda"
    # tensors, and a word-level model's Conditioning (which moves all its tensors)
    return {k: v.to(device, non_blocking=non_blocking) if torch.is_tensor(v) or isinstance(v, Conditioning) else v
            for k, v in batch.items()}


def _losses_to_floats(losses: dict) -> dict[str, float]:
    if not losses:
        return {}
    names = list(losses)
    values = torch.stack([torch.as_tensor(losses[n]).detach().float().reshape(()).cpu() for n in names])
    return dict(zip(names, values.tolist()))


def train(spec: RunSpec, run_dir: str | Path, device: str | None = "cpu", resume: bool = False,
          progress: bool = True, on_log: Callable[[int, dict], None] | None = None,
          sync_bn: bool = False, eval_every: int | None = None,
          on_eval: "Callable[[object, object, Conditioner], dict[str, float]] | None" = None,
          tensorboard: bool = False) -> TrainResult:
    """Train ``spec`` into ``run_dir`` until its budget is spent (or resume an interrupted run).

    Under torchrun every rank calls this; only rank 0 writes anything.

    With ``eval_every`` (images seen) and ``on_eval(model, dataset, conditioner) -> values``, the
    values are measured before training, each time another ``eval_every`` images have been
    seen, and at the end; each measurement is a ``log.jsonl`` record with ``eval.<value>``,
    ``eval.images_seen`` and ``eval.wall_time_s`` (training time so far, the measurements left
    out: they count neither against a wall-clock budget nor in the throughput). The RNG states
    are restored afterwards, so a run trains exactly as it would without them (not under torchrun).
    ``tensorboard`` also writes losses, these values and sample grids as TensorBoard events
    in ``run_dir/tensorboard`` (:mod:`ganzoo.tensorboard`).
    """
    session = set_up(spec, Path(run_dir), device, resume, sync_bn)
    evals = InTraining(session, eval_every, on_eval, tensorboard)
    outcome = run_loop(session, evals, progress, on_log)
    return finish(session, evals, outcome)


@dataclass
class Session:
    """A run set up for training (:func:`set_up`): what the loop and :func:`finish` work on."""

    spec: RunSpec
    run_dir: Path
    dist: distributed.DistInfo
    device: str
    resume: bool
    speed: SpeedOptions
    model: object
    dataset: object
    conditioner: Conditioner
    env: dict
    state: dict  # step, epoch, step_in_epoch, images_seen, elapsed_s: what a checkpoint restores
    loader: DataLoader
    per_epoch: int
    max_steps: int | None

    @property
    def main(self) -> bool:
        return self.dist.is_main

    def save(self) -> None:
        if self.main:
            save_checkpoint(self.run_dir / "checkpoint", self.model, self.state)


@dataclass
class LoopOutcome:
    status: str  # ok | diverged
    reason: str
    losses: dict
    wall_time_s: float
    timer: "PhaseTimer"
    memory: PeakMemory


def set_up(spec: RunSpec, run_dir: Path, device: str | None, resume: bool, sync_bn: bool) -> Session:
    """Check the request, build data, text conditioning and model, write the run's files (or load its
    checkpoint when resuming) and make the data loader. Seeds are set in a fixed order here, so a
    run is reproducible from ``spec.seed``."""
    spec.validate()
    if not any([spec.steps, spec.epochs, spec.time_budget_s, spec.images_budget]):
        raise UsageError("give a training budget: --steps, --epochs or --budget")
    dist_info, device = distributed.setup(resolve_device(device))
    spec = _spec_to_run(spec, run_dir, resume)
    speed = SpeedOptions.from_json(spec.speed)
    speed.validate(device)
    seed_everything(spec.seed, spec.deterministic)
    apply_global(speed)
    reg = get_registry()
    model_cls, config = resolve_model_config(spec)
    if spec.text_encoder is not None:
        reg.get("text encoder", spec.text_encoder)
    dataset = reg.dataset(spec.dataset, **spec.dataset_options)
    train_split = dataset.split("train")
    if spec.text_encoder is None:
        spec.text_encoder = dataset.default_text_encoder or run_default("text_encoder")
    conditioner = Conditioner.fit(spec, train_split)
    table = conditioner.split_table(train_split)
    vocab = None
    if wants_words(model_cls):  # word-level models: a vocabulary of the training captions' words
        vocab = (Vocabulary.load(run_dir / VOCAB_FILE) if resume and (run_dir / VOCAB_FILE).exists()
                 else Vocabulary.build(train_split.captions))
    seed_everything(spec.seed, spec.deterministic)  # model init does not depend on caption encoding
    model = model_cls(config, text_dim=conditioner.dim, device=device, **model_kwargs(model_cls, vocab))
    env = environment(device)
    env["world_size"] = dist_info.world_size
    distributed.barrier()  # every rank has checked the run directory before rank 0 writes to it
    if dist_info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    if dist_info.is_main and not resume:
        write_run_file(run_dir, spec, config, env)
        conditioner.save(run_dir / "text.safetensors")
        if vocab is not None:
            vocab.save(run_dir / VOCAB_FILE)

    state = {"step": 0, "epoch": 0, "step_in_epoch": 0, "images_seen": 0, "elapsed_s": 0.0}
    if resume:
        harness = load_checkpoint(run_dir / "checkpoint", model, with_optimizers=True, restore_rngs=True)
        harness.pop("extra_tensors", None)
        state.update(harness)
    prepare_model(model, speed)
    if dist_info.enabled:
        distributed.wrap_model(model, device, sync_bn=sync_bn or spec.sync_bn)
        # ranks draw different noise; reproducible from (seed, rank, step)
        torch.manual_seed(spec.seed * 1_000_003 + dist_info.rank * 7_919 + state["step"])
    sampler = EpochBatchSampler(len(train_split), model.batch_size, int(train_split.caption_ids.shape[1]),
                                spec.seed, rank=dist_info.rank, world_size=dist_info.world_size,
                                start_epoch=state["epoch"], start_step=state["step_in_epoch"])
    if sampler.batches_per_epoch() == 0:
        raise UsageError(f"batch size {model.batch_size} is larger than the {len(train_split)} training images")
    loader = DataLoader(TrainView(train_split, table, model.image_size, train=True, vocab=vocab), batch_sampler=sampler,
                        collate_fn=identity_collate, num_workers=spec.num_workers,
                        pin_memory=torch.device(device).type == "cuda",
                        persistent_workers=spec.num_workers > 0,
                        # its own generator: creating the iterator must not draw from the global
                        # RNG, or a resumed run would diverge from an uninterrupted one
                        generator=torch.Generator().manual_seed(spec.seed))
    per_epoch = sampler.batches_per_epoch()
    session = Session(spec, run_dir, dist_info, device, resume, speed, model, dataset, conditioner, env, state, loader,
                      per_epoch, _max_steps(spec, model.batch_size * dist_info.world_size, per_epoch))
    if not resume:  # step-0 checkpoint: a run that diverges at once still has a last good state
        session.save()
    return session


def _spec_to_run(spec: RunSpec, run_dir: Path, resume: bool) -> RunSpec:
    """``spec`` itself, or when resuming the run's saved spec with the budget ``spec`` gives (if any)."""
    if not resume:
        if (run_dir / "checkpoint" / "state.json").exists():
            raise UsageError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
        return spec
    if not (run_dir / "checkpoint" / "state.json").exists():
        raise GanzooError(f"nothing to resume in {run_dir}: no checkpoint there")
    saved = read_run_file(run_dir)
    budget = {k: getattr(spec, k) for k in ("steps", "epochs", "time_budget_s", "images_budget")}
    spec = RunSpec.from_record(saved["spec"], run_dir)
    for k, v in budget.items():  # a resumed run may be given a new (larger) budget
        if v is not None:
            setattr(spec, k, v)
    return spec


def run_loop(s: Session, evals: InTraining, progress: bool, on_log: Callable[[int, dict], None] | None) -> LoopOutcome:
    """Train until the budget is spent or a loss is not finite: steps, logs, evaluations, checkpoints."""
    spec, state, model, dist_info = s.spec, s.state, s.model, s.dist
    fault_step = int(os.environ.get(FAULT_NAN_ENV, "-1"))
    memory = PeakMemory(s.device)
    bar = Progress(s.max_steps, f"{spec.model}{'[' + spec.variant() + ']' if spec.variant() else ''} s{spec.seed}",
                   progress and s.main, initial=state["step"])
    status, reason, losses_f = "ok", "", {}
    start = time.perf_counter() - state["elapsed_s"]
    if evals.periodic and not s.resume:  # the untrained model: where every curve starts
        start += evals.measure()
    timer = PhaseTimer()
    model.train()
    try:
        for batch in s.loader:
            spent = _budget_spent(spec, state, s.max_steps, time.perf_counter() - start)
            if distributed.any_flag(spent)[0] if dist_info.enabled else spent:
                break
            batch = prepare_batch(_to_device(batch, model.device), s.speed)
            phase = model.phase
            with autocast(s.speed, model.device):
                losses = model.train_step(batch)
            state["step"] += 1
            state["images_seen"] += model.batch_size * dist_info.world_size
            if state["step"] == fault_step:
                losses = {k: torch.full_like(torch.as_tensor(v, dtype=torch.float32), float("nan"))
                          for k, v in losses.items()}
            losses_f = _losses_to_floats(losses)
            bad = {k: v for k, v in losses_f.items() if not math.isfinite(v)}
            if dist_info.enabled and distributed.any_flag(bool(bad))[0] and not bad:
                bad = {"loss on another rank": float("nan")}
            if bad:
                status = "diverged"
                reason = f"non-finite loss at step {state['step']}: " + ", ".join(f"{k}={v}" for k, v in bad.items())
                break
            timer.tick(phase, model.batch_size)
            state["epoch"], state["step_in_epoch"] = batch["epoch"], batch["step_in_epoch"] + 1
            if state["step_in_epoch"] >= s.per_epoch:
                model.end_epoch(state["epoch"])
                state["epoch"], state["step_in_epoch"] = state["epoch"] + 1, 0
            state["elapsed_s"] = time.perf_counter() - start
            if s.main and (state["step"] % spec.log_every == 0 or state["step"] == 1):
                append_log(evals.log_path, {"step": state["step"], "epoch": state["epoch"], **losses_f})
                evals.losses(state["step"], losses_f)
                if on_log:
                    on_log(state["step"], losses_f)
            if evals.due():
                start += evals.measure()  # evaluation time is not training time
                timer.last = time.perf_counter()
                evals.advance()
            if state["step"] % spec.checkpoint_every == 0:
                s.save()
            bar.update(1, losses_f)
    except KeyboardInterrupt:
        s.save()
        bar.close()
        raise
    bar.close()
    return LoopOutcome(status, reason, losses_f, time.perf_counter() - start, timer, memory)


def finish(s: Session, evals: InTraining, outcome: LoopOutcome) -> TrainResult:
    """The last checkpoint and measurement, and the run's result (``result.json``)."""
    model, state, dist_info = s.model, s.state, s.dist
    if dist_info.enabled:
        distributed.sync_buffers(model)
    if outcome.status == "ok":
        s.save()
    if outcome.status == "ok" and evals.wants_final():
        evals.measure()  # the end of every curve (and the final grid)
    evals.close()
    if dist_info.enabled:
        print(f"[rank {dist_info.rank}/{dist_info.world_size}] step {state['step']} weights "
              f"{distributed.weights_digest(model)} buffers {distributed.weights_digest(model, buffers=True)}", flush=True)
        distributed.barrier()
    train_stats = {
        "train_images_per_s": outcome.timer.rates() or None,
        "peak_memory_mb": outcome.memory.peak_mb(),
        "device": str(s.device), "device_name": s.env["device_name"], "dtype": s.speed.dtype_name,
        "speed": s.speed.label(), "world_size": dist_info.world_size,
        "batch_size": model.batch_size, "image_size": model.image_size,
    }
    result = TrainResult(s.run_dir, outcome.status, outcome.reason, state["step"], state["step"] / max(s.per_epoch, 1),
                         state["images_seen"], outcome.wall_time_s, train_stats, outcome.losses)
    if s.main:
        atomic_write_text(s.run_dir / "result.json", json.dumps(result_record(result), indent=1, default=str))
    return result


class PhaseTimer:
    """Images/s per training phase (e.g. StackGAN's stage1/stage2), skipping each phase's warm-up steps.

    Each interval runs from the end of one iteration to the end of the next, so it covers
    data loading and the step; the per-step loss read-back synchronises the device.
    """

    def __init__(self, warmup: int = WARMUP_STEPS):
        self.warmup, self.last = warmup, time.perf_counter()
        self.seen: dict[str, int] = {}
        self.time: dict[str, float] = {}
        self.images: dict[str, int] = {}

    def tick(self, phase: str, images: int) -> None:
        now = time.perf_counter()
        self.seen[phase] = self.seen.get(phase, 0) + 1
        if self.seen[phase] > self.warmup:
            self.time[phase] = self.time.get(phase, 0.0) + (now - self.last)
            self.images[phase] = self.images.get(phase, 0) + images
        self.last = now

    def rates(self) -> dict[str, float]:
        return {p: self.images[p] / t for p, t in self.time.items() if t > 0}


def _max_steps(spec: RunSpec, batch_size: int, per_epoch: int) -> int | None:
    limits = []
    if spec.steps:
        limits.append(spec.steps)
    if spec.epochs:
        limits.append(spec.epochs * per_epoch)
    if spec.images_budget:
        limits.append(math.ceil(spec.images_budget / batch_size))
    return min(limits) if limits else None


def _budget_spent(spec: RunSpec, state: dict, max_steps: int | None, elapsed: float) -> bool:
    if max_steps is not None and state["step"] >= max_steps:
        return True
    return spec.time_budget_s is not None and elapsed >= spec.time_budget_s
