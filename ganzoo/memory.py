"""Peak memory of the process: CUDA max allocated on GPU, peak resident set size on CPU.

On Linux the CPU figure is ``VmHWM`` from ``/proc/self/status``: the high-water mark of
this process image alone. ``ru_maxrss`` is not used there because a process started by
fork + exec (every bench worker) inherits its parent's peak in ``ru_maxrss``, so a worker
started by a large parent would report the parent's peak instead of its own.

Between a run's training and its evaluation the bench calls :func:`release_free_memory`:
glibc keeps memory that training freed resident, in amounts that depend on the run's
history, and the evaluation's peak would sit on top of that leftover.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
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


def release_free_memory() -> bool:
    """Collect garbage and hand memory the C allocator holds free back to the system
    (``malloc_trim(0)``, glibc only). True if the trim ran; the peak so far is unchanged."""
    gc.collect()
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


def current_rss_mb() -> float | None:
    """Resident set size now (VmRSS) in MiB, Linux only."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 2**10


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
