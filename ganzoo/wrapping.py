"""Wrapped networks (DistributedDataParallel, torch.compile): finding the plain module inside, and
putting a wrapper in the place of the network a model holds. Shared by :mod:`ganzoo.speed` and
:mod:`ganzoo.distributed`, which otherwise need nothing from each other."""

from __future__ import annotations

from torch import nn


def unwrap(net: nn.Module) -> nn.Module:
    """The plain module inside DDP and/or torch.compile wrappers."""
    while True:
        if isinstance(net, nn.parallel.DistributedDataParallel):
            net = net.module
        elif hasattr(net, "_orig_mod"):
            net = net._orig_mod
        else:
            return net


def replace_attribute(obj, target: nn.Module, new: nn.Module) -> bool:
    """Put ``new`` wherever ``obj`` holds ``target`` (found by identity): a direct attribute or a
    value of a dict attribute. Returns whether any was found."""
    found = False
    for attr, value in list(vars(obj).items()):
        if value is target:
            setattr(obj, attr, new)
            found = True
        elif isinstance(value, dict):
            for k, v in list(value.items()):
                if v is target:
                    value[k] = new
                    found = True
    return found
