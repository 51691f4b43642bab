"""torch.distributed under torchrun: process group, rank roles, DDP wrapping of a model's networks.

``torchrun --nproc_per_node=N -m ganzoo train ...`` sets RANK/WORLD_SIZE/LOCAL_RANK;
ganzoo then initialises NCCL on GPUs (one per local rank) or gloo on CPUs, shards the
batches by rank, wraps every trainable network in DistributedDataParallel, and lets only
rank 0 write checkpoints, logs, the store and reports. Multi-node runs need nothing
beyond torchrun's own flags (--nnodes, --node_rank, --rdzv_endpoint ...).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ganzoo.wrapping import replace_attribute, unwrap


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def info() -> DistInfo:
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                    int(os.environ.get("LOCAL_RANK", 0)))


def setup(device: str) -> tuple[DistInfo, str]:
    """Join the process group when launched by torchrun; returns (info, this rank's device)."""
    d = info()
    if not d.enabled:
        return d, device
    if not dist.is_initialized():
        use_cuda = torch.device(device).type == "cuda"
        if use_cuda:
            torch.cuda.set_device(d.local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    d = info()
    if torch.device(device).type == "cuda":
        device = f"cuda:{d.local_rank}"
    return d, device


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def any_flag(*flags: bool) -> list[bool]:
    """Element-wise OR of boolean flags across ranks (keeps ranks in lock-step on stop decisions)."""
    t = torch.tensor([int(f) for f in flags], dtype=torch.int64)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def sync_buffers(model) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics drift per rank after the last forward)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    for net in model.networks().values():
        for buf in unwrap(net).buffers():
            dist.broadcast(buf.data, src=0)


def wrap_model(model, device: str, sync_bn: bool = False) -> None:
    """Replace each trainable network attribute of ``model`` by its DDP wrapper (found by identity)."""
    for name, net in model.networks().items():
        if not any(p.requires_grad for p in net.parameters()):
            continue
        if sync_bn:
            converted = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        else:
            converted = net
        ids = [torch.device(device).index] if torch.device(device).type == "cuda" else None
        wrapped = nn.parallel.DistributedDataParallel(converted, device_ids=ids)
        replaced = replace_attribute(model, net, wrapped)
        if not replaced:
            raise RuntimeError(f"network {name!r} of {type(model).__name__} is not a direct attribute; "
                               "distributed training needs networks held as model attributes")


def weights_digest(model, buffers: bool = False) -> str:
    """A hash of every network's parameters (or buffers: BatchNorm statistics), to compare ranks."""
    h = hashlib.sha256()
    for name, net in sorted(model.networks().items()):
        items = unwrap(net).named_buffers() if buffers else unwrap(net).named_parameters()
        for k, v in sorted(items, key=lambda kv: kv[0]):
            h.update(name.encode() + k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
