"""Benchmarks share the test suite's isolated cache and run on all CPU threads unless a test says otherwise."""

import os
import tempfile

os.environ.setdefault("GANZOO_CACHE", tempfile.mkdtemp(prefix="ganzoo-bench-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
