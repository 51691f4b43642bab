"""Measurements during training: the cheap metrics every ``eval_every`` images seen, and the
TensorBoard events of a run (:class:`InTraining`, used by :func:`ganzoo.harness.train`).

A measurement leaves no trace on training: the RNG states are restored afterwards and its
time is not training time, so a run trains exactly as it would without them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import torch


class InTraining:
    """The in-training evaluations and the TensorBoard log of one run (on rank 0 only)."""

    def __init__(self, session, eval_every: int | None, on_eval: Callable | None, tensorboard: bool):
        self.session, self.every, self.on_eval = session, eval_every, on_eval
        self.log_path = session.run_dir / "log.jsonl"
        self.board = None
        if tensorboard and session.main:
            from ganzoo.tensorboard import TensorBoardLog

            self.board = TensorBoardLog(session.run_dir)
        self.periodic = bool(eval_every and on_eval and session.main and not session.dist.enabled)
        self.next = (session.state["images_seen"] // int(eval_every) + 1) * int(eval_every) if self.periodic else None
        self.last = -1

    def measure(self) -> float:
        """Run the in-training evaluation (and a TensorBoard grid); returns the seconds it took."""
        s = self.session
        state, model = s.state, s.model
        began = time.perf_counter()
        rng = rng_states()
        try:
            values = self.on_eval(model, s.dataset, s.conditioner) if self.periodic else {}
            record = {"step": state["step"], "epoch": state["epoch"],
                      **{f"eval.{k}": float(v) for k, v in values.items()},
                      "eval.images_seen": state["images_seen"], "eval.wall_time_s": round(state["elapsed_s"], 3)}
            if values:
                append_log(self.log_path, record)
            if self.board is not None:
                if values:
                    self.board.metrics(state["step"], values, state["images_seen"], state["elapsed_s"])
                self.board.image("samples", board_grid(model, s.dataset, s.conditioner, s.spec.seed), state["step"])
        finally:
            restore_rng_states(rng)
            model.train()
        self.last = state["images_seen"]
        return time.perf_counter() - began

    def due(self) -> bool:
        return self.next is not None and self.session.state["images_seen"] >= self.next

    def advance(self) -> None:
        self.next = (self.session.state["images_seen"] // int(self.every) + 1) * int(self.every)

    def losses(self, step: int, losses: dict[str, float]) -> None:
        if self.board is not None:
            self.board.losses(step, losses)

    def wants_final(self) -> bool:
        """A last measurement ends every curve (and gives the final TensorBoard grid)."""
        return self.periodic and self.last != self.session.state["images_seen"] or self.board is not None

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


def append_log(path: Path, record: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def rng_states() -> dict:
    import random

    import numpy as np

    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    import random

    import numpy as np

    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


def eval_split(dataset, name: str = "test"):
    try:
        return dataset.split(name)
    except Exception:
        return dataset.split("train")


def board_grid(model, dataset, conditioner, seed: int):
    from ganzoo.tensorboard import sample_grid

    split = eval_split(dataset)
    return sample_grid(model, split, conditioner.split_table(split), seed)


def periodic_evaluation(metric_names: list[str], num_samples: int, batch_size: int, seed: int, device: str,
                        split: str = "test") -> Callable:
    """An ``on_eval`` for :func:`ganzoo.harness.train`: the given metrics on ``num_samples`` samples of ``split``."""
    cache: dict = {}

    def on_eval(model, dataset, conditioner) -> dict[str, float]:
        from ganzoo.metrics import EvalContext, evaluate

        if "split" not in cache:
            cache["split"] = eval_split(dataset, split)
            cache["table"] = conditioner.split_table(cache["split"])
        ctx = EvalContext(model=model, split=cache["split"], embeddings=cache["table"],
                          dataset_name=getattr(dataset, "name", "") or "", num_samples=int(num_samples),
                          batch_size=min(int(batch_size), int(num_samples)), seed=seed, device=device)
        return evaluate(ctx, metric_names)["values"]

    return on_eval


def bench_training_options(preset: dict, device: str, seed: int, split: str = "test") -> dict:
    """The :func:`ganzoo.harness.train` keywords a bench preset asks for: ``eval_every`` with the cheap
    metrics among its ``metrics`` (on ``eval_every_samples`` samples), and ``tensorboard``."""
    from ganzoo.metrics import cheap_metrics

    options: dict = {"tensorboard": bool(preset.get("tensorboard"))}
    every = int(preset.get("eval_every") or 0)
    names = cheap_metrics(list(preset.get("metrics") or []))
    if every > 0 and names:
        samples = int(preset.get("eval_every_samples") or 200)
        options.update(eval_every=every, on_eval=periodic_evaluation(
            names, samples, int(preset.get("eval_batch") or samples), seed, device, split))
    return options
