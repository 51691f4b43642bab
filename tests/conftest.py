"""Shared test set-up: an isolated ganzoo cache per test session (embeddings, Inception conversion)."""

import os
import tempfile

import pytest

# Set before any test imports ganzoo modules, and inherited by subprocesses the tests start.
os.environ.setdefault("GANZOO_CACHE", tempfile.mkdtemp(prefix="ganzoo-test-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tiny models gain nothing from threads, and two threads contend badly on a shared
# 2-core machine; subprocesses the tests start inherit this too.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def small_shapes():
    """Dataset options for a small shapes dataset (fast to caption-encode)."""
    return {"n_train": 96, "n_test": 48}
