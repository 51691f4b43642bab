"""Peak memory of the process: CUDA max allocated on GPU, peak resident set size on CPU."""

from __future__ import annotations

import resource
import sys

import torch


class PeakMemory:
    def __init__(self, device: str | torch.device):
        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_mb(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss / 2**20 if sys.platform == "darwin" else rss / 2**10
