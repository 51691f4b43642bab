"""Benchmarks share the test suite's isolated cache and run on torch's default thread count
unless a test says otherwise; ``GANZOO_BENCH_THREADS=N`` sets it for the whole session.

On a 2-core machine that other jobs keep busy, two threads can make small models 10-50x
slower (each parallel op waits for the descheduled second thread); one thread avoids that.
"""

import os
import tempfile

import torch

os.environ.setdefault("GANZOO_CACHE", tempfile.mkdtemp(prefix="ganzoo-bench-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
if os.environ.get("GANZOO_BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["GANZOO_BENCH_THREADS"]))
