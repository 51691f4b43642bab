"""Checkpoints: tensors in safetensors, everything else in JSON, written atomically.

Layout of ``RUN/checkpoint/``::

    weights-<step>.safetensors   networks.*, optimizers.*, rng.*, extra tensors
    state.json                   format tag, step, epoch, position, optimiser param
                                 groups, RNG states, model extra state, harness state

``state.json`` is written last (temp file + rename) and names its weights file, so a
crash at any moment leaves either the previous complete checkpoint or the new one.
Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganzoo.errors import GanzooError
from ganzoo.wrapping import unwrap

FORMAT = "ganzoo-checkpoint"
VERSION = 1


class CheckpointError(GanzooError):
    pass


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"could not write {path}: {exc.strerror or exc}; free some disk space and retry") from None


def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
        os.replace(tmp, path)
    except (OSError, SafetensorError) as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"could not write {path}: {exc}; free some disk space and retry") from None


# ---- flattening optimiser and RNG state ----------------------------------------------

def _flatten_optimizer(name: str, sd: dict, tensors: dict, meta: dict) -> None:
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in sd["state"].items():
        for k, v in pstate.items():
            if torch.is_tensor(v):
                tensors[f"optimizers.{name}.state.{pid}.{k}"] = v
            else:
                scalars.setdefault(str(pid), {})[k] = v
    meta[name] = {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(name: str, tensors: dict, meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"optimizers.{name}.state."
    for key, v in tensors.items():
        if key.startswith(prefix):
            pid, k = key[len(prefix):].split(".", 1)
            state.setdefault(int(pid), {})[k] = v
    for pid, sc in meta[name].get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(sc)
    return {"state": state, "param_groups": meta[name]["param_groups"]}


def rng_state(tensors: dict) -> dict:
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }


def restore_rng(meta: dict, tensors: dict) -> None:
    py = meta["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = meta["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


# ---- save / load -----------------------------------------------------------------------

def save_checkpoint(ckpt_dir: Path, model, harness_state: dict[str, Any],
                    extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a complete checkpoint of ``model`` and the harness position; returns state.json."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    step = int(harness_state.get("step", 0))
    tensors: dict[str, torch.Tensor] = {}
    for name, net in model.networks().items():
        net = unwrap(net)
        for k, v in net.state_dict().items():
            tensors[f"networks.{name}.{k}"] = v
    opt_meta: dict[str, Any] = {}
    for name, opt in model.optimizers().items():
        _flatten_optimizer(name, opt.state_dict(), tensors, opt_meta)
    for k, v in (extra_tensors or {}).items():
        tensors[f"extra.{k}"] = v
    rng = rng_state(tensors)
    weights_name = f"weights-{step:09d}.safetensors"
    atomic_save_tensors(tensors, ckpt_dir / weights_name)
    state = {
        "format": FORMAT, "version": VERSION, "weights": weights_name,
        "harness": harness_state, "optimizers": opt_meta, "rng": rng,
        "model_extra": model.extra_state(),
    }
    atomic_write_text(ckpt_dir / "state.json", json.dumps(state, indent=1, default=_json_default))
    for old in ckpt_dir.glob("weights-*.safetensors"):
        if old.name != weights_name:
            old.unlink(missing_ok=True)
    return ckpt_dir / "state.json"


def _json_default(obj):
    if torch.is_tensor(obj):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_checkpoint(ckpt_dir: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(state, tensors) of a checkpoint directory, refusing anything that is not ours."""
    ckpt_dir = Path(ckpt_dir)
    state_path = ckpt_dir / "state.json"
    if not state_path.exists():
        raise CheckpointError(f"no ganzoo checkpoint at {ckpt_dir} (missing state.json); "
                              "point --checkpoint at a run directory made by `ganzoo train`")
    try:
        state = json.loads(state_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{state_path} is not a ganzoo checkpoint (unreadable JSON)") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{state_path} is not a ganzoo checkpoint")
    weights = ckpt_dir / state["weights"]
    if not weights.exists():
        raise CheckpointError(f"checkpoint weights {weights} are missing")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, Exception) as exc:
        raise CheckpointError(f"checkpoint weights {weights} are damaged or truncated ({exc})") from None
    return state, tensors


def load_checkpoint(ckpt_dir: Path, model, with_optimizers: bool = True, restore_rngs: bool = False) -> dict:
    """Load weights (and optimiser states) into ``model``; returns the harness state."""
    state, tensors = read_checkpoint(ckpt_dir)
    networks: dict[str, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        if key.startswith("networks."):
            net, k = key[len("networks."):].split(".", 1)
            networks.setdefault(net, {})[k] = v
    missing = set(model.networks()) - set(networks)
    if missing:
        raise CheckpointError(f"checkpoint {ckpt_dir} lacks networks {sorted(missing)}: made by another model?")
    full = {"networks": networks, "optimizers": {}, "extra": state.get("model_extra", {})}
    if with_optimizers:
        full["optimizers"] = {n: _unflatten_optimizer(n, tensors, state["optimizers"]) for n in state["optimizers"]}
    try:
        model.load_state_dict(full, with_optimizers=with_optimizers)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {ckpt_dir} does not fit this model's config: {str(exc).splitlines()[0]}") from None
    if with_optimizers:
        match_optimizer_layouts(model)
    if restore_rngs:
        restore_rng(state["rng"], tensors)
    state["harness"]["extra_tensors"] = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    return state["harness"]


def match_optimizer_layouts(model) -> None:
    """Give each optimiser state tensor its parameter's memory layout.

    Checkpoints hold tensors in the default (contiguous) layout; fused/foreach optimiser
    kernels pair state and parameter elements by memory position, so a channels_last
    parameter with a contiguous moment would silently update the wrong elements.
    """
    for opt in model.optimizers().values():
        for group in opt.param_groups:
            for p in group["params"]:
                st = opt.state.get(p)
                for k, v in (st or {}).items():
                    if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                        st[k] = torch.empty_like(p).copy_(v)


def load_network_weights(ckpt_dir: Path, network: str) -> dict[str, torch.Tensor]:
    """The state dict of one named network from a checkpoint (e.g. a trained Stage-I generator)."""
    _, tensors = read_checkpoint(ckpt_dir)
    prefix = f"networks.{network}."
    sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not sd:
        raise CheckpointError(f"checkpoint {ckpt_dir} has no network {network!r}")
    return sd
