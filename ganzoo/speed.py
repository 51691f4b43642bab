"""Switchable speed paths: bf16 autocast, channels_last, torch.compile, cuDNN benchmark, TF32.

Each is off by default and recorded with the run (``RunSpec.speed``) and with every
throughput figure. Models compute their GAN losses in the logits form
(BCE-with-logits), which autocast keeps in float32, so bf16 autocast is safe for them.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import torch

from ganzoo.errors import UsageError
from ganzoo.wrapping import replace_attribute, unwrap  # noqa: F401  (unwrap: plugins import it from here)

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class SpeedOptions:
    amp: str = "none"          # none | bf16 | fp16 (fp16 only on CUDA)
    channels_last: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False
    tf32: bool = False

    def validate(self, device: str) -> None:
        if self.amp not in AMP_DTYPES:
            raise UsageError(f"unknown --amp {self.amp!r}; valid: {', '.join(AMP_DTYPES)}")
        if self.amp == "fp16" and torch.device(device).type != "cuda":
            raise UsageError("--amp fp16 needs a CUDA device; use --amp bf16 on the CPU")

    def label(self) -> str:
        on = [k if v is True else f"{k}={v}" for k, v in asdict(self).items() if v not in (False, "none")]
        return ",".join(on) or "fp32"

    @property
    def dtype_name(self) -> str:
        return "float32" if self.amp == "none" else f"autocast-{self.amp}"

    @classmethod
    def from_json(cls, data: dict | None) -> "SpeedOptions":
        return cls(**(data or {}))


def apply_global(opts: SpeedOptions) -> None:
    torch.backends.cudnn.benchmark = bool(opts.cudnn_benchmark)
    torch.backends.cuda.matmul.allow_tf32 = bool(opts.tf32)
    torch.backends.cudnn.allow_tf32 = bool(opts.tf32)


def prepare_model(model, opts: SpeedOptions) -> None:
    """channels_last and torch.compile on every network, replacing the model's attributes in place."""
    for net in list(model.networks().values()):
        if opts.channels_last:
            net.to(memory_format=torch.channels_last)
        if opts.compile:
            replace_attribute(model, net, torch.compile(net))


def autocast(opts: SpeedOptions, device: torch.device):
    dtype = AMP_DTYPES[opts.amp]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def prepare_batch(batch: dict, opts: SpeedOptions) -> dict:
    if opts.channels_last and torch.is_tensor(batch.get("images")):
        batch["images"] = batch["images"].contiguous(memory_format=torch.channels_last)
    return batch
