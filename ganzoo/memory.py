"""Peak memory of the process: CUDA max allocated on GPU, peak resident set size on CPU.

On Linux the CPU figure is ``VmHWM`` from ``/proc/self/status``: the high-water mark of
this process image alone. ``ru_maxrss`` is not used there because a process started by
fork + exec (every bench worker) inherits its parent's peak in ``ru_maxrss``, so a worker
started by a large parent would report the parent's peak instead of its own.
"""

from __future__ import annotations

import resource
import sys

import torch


def _status_kib(field: str, pid: int | str = "self") -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def process_peak_rss_mb(pid: int | None = None) -> float | None:
    """Peak resident set size in MiB of this process (or of ``pid``, Linux only; None if unknown)."""
    kib = _status_kib("VmHWM", "self" if pid is None else pid)
    if kib is not None:
        return kib / 2**10
    if pid is not None:
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def peak_rss_measure() -> str:
    """How :func:`process_peak_rss_mb` measures, for provenance tables."""
    if _status_kib("VmHWM") is not None:
        return "peak resident set size of this process (VmHWM; each bench run is its own process)"
    return "peak resident set size of this process (ru_maxrss)"


class PeakMemory:
    def __init__(self, device: str | torch.device):
        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_mb(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return process_peak_rss_mb()
