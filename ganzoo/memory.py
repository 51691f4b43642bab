"""Peak memory of the process: CUDA max allocated on GPU, peak anonymous resident memory on CPU.

On Linux the CPU figure is the peak of this process's *anonymous* resident memory (the heap,
tensors, Python objects: ``/proc/self/statm`` resident minus shared), sampled every
:data:`SAMPLE_INTERVAL_S` on a daemon thread. It leaves out the file-backed pages (the code of
torch's and CUDA's shared libraries, ~400-550 MB here), which are shared between processes and
whose resident count depends on the page cache, not on the run: the same run gave peak
resident sets 240 MB apart in a fresh clone right after ``pip install`` and in an older one,
with the same anonymous peak (reports/bench/README.md). It is the CPU counterpart of the GPU
figure, which counts tensors and not the CUDA context. Spikes shorter than the interval can be
missed; a training step's peak recurs every step, so it is not. ``VmHWM`` (the exact high-water
mark of the whole resident set, shared library pages included) is still read for provenance
and for workers watched from outside (:func:`process_peak_rss_mb`). ``ru_maxrss`` is not used:
a process started by fork + exec (every bench worker) inherits its parent's peak in it.

Between a run's training and its evaluation the bench calls :func:`release_free_memory`:
glibc keeps memory that training freed resident, in amounts that depend on the run's
history, and the evaluation's peak would sit on top of that leftover. It also pins glibc's
mmap threshold at its initial 128 KiB. Left dynamic, the threshold rises to the size of the
largest mapped block freed so far, so after training the evaluation's mid-sized buffers came
from the heap, fragmented it and crept up batch after batch of the Inception pass: the same
ebgan run peaked anywhere from 1,861 to 2,381 MB over six runs, its evaluation at 1,881 MB in a
fresh process (reports/bench/README.md). Pinned, every block of 128 KiB or more is mapped and
unmapped whole: in `make bench` and alone, ebgan's whole run peaked at 1,844 and 1,843 MB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import resource
import sys
import threading
import time
from typing import Any


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


#: glibc's mallopt parameter number for the mmap threshold, and the threshold's initial value
M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES = -3, 128 * 1024


def release_free_memory() -> bool:
    """Collect garbage, hand memory the C allocator holds free back to the system
    (``malloc_trim(0)``) and pin its mmap threshold at 128 KiB (``mallopt``), glibc only.
    True if both ran; the peak so far is unchanged."""
    gc.collect()
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim, mallopt = libc.malloc_trim, libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    trim(0)
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1


def current_rss_mb() -> float | None:
    """Resident set size now (VmRSS) in MiB, Linux only."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 2**10


def peak_rss_measure() -> str:
    """How :func:`process_peak_rss_mb` measures, for provenance tables."""
    if _status_kib("VmHWM") is not None:
        return "peak resident set size of this process (VmHWM; each bench run is its own process)"
    return "peak resident set size of this process (ru_maxrss)"


#: how often the anonymous-memory sampler looks (seconds)
SAMPLE_INTERVAL_S = 0.01


def anon_rss_mb() -> float | None:
    """Anonymous resident memory of this process now, in MiB (statm resident - shared; Linux only)."""
    try:
        with open("/proc/self/statm") as fh:
            fields = fh.read().split()
        return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


class _AnonPeak:
    """The largest :func:`anon_rss_mb` seen by a daemon thread that samples it every interval."""

    def __init__(self, interval_s: float):
        self.interval_s, self.peak = interval_s, 0.0
        self._lock = threading.Lock()
        threading.Thread(target=self._loop, name="ganzoo-anon-peak", daemon=True).start()

    def sample(self) -> float:
        now = anon_rss_mb() or 0.0
        with self._lock:
            self.peak = max(self.peak, now)
            return self.peak

    def _loop(self) -> None:
        while True:
            self.sample()
            time.sleep(self.interval_s)


_sampler: _AnonPeak | None = None
_sampler_lock = threading.Lock()


def start_peak_sampler() -> bool:
    """Start this process's anonymous-memory sampler (once; later calls do nothing). False where
    there is no ``/proc/self/statm`` (not Linux): the CPU figure is then the peak RSS."""
    global _sampler
    with _sampler_lock:
        if _sampler is None and anon_rss_mb() is not None:
            _sampler = _AnonPeak(SAMPLE_INTERVAL_S)
    return _sampler is not None


def process_peak_mb() -> float | None:
    """This process's peak memory on CPU, MiB: the sampled anonymous peak since the sampler
    started (a sample is also taken now), else the peak resident set (:func:`process_peak_rss_mb`)."""
    if _sampler is not None:
        return _sampler.sample()
    return process_peak_rss_mb()


def peak_measure() -> str:
    """How :func:`process_peak_mb` measures, for provenance tables."""
    if _sampler is not None:
        return (f"peak anonymous resident memory of this process (heap and tensors, not shared library pages), "
                f"sampled every {SAMPLE_INTERVAL_S * 1000:g} ms; each bench run is its own process")
    return peak_rss_measure()


class PeakMemory:
    """A training loop's peak: CUDA max allocated since it began, or the process's CPU peak."""

    def __init__(self, device: Any):
        import torch  # here, so that the CLI can start the sampler without importing torch

        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            start_peak_sampler()

    def peak_mb(self) -> float:
        import torch

        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return process_peak_mb()
