"""The test session runs with its own caches (tests/conftest.py), removed when it ends.

Files in ``~/.cache/torch/hub`` change which metrics run (torch-fidelity's InceptionV3 with
its classifier enables IS, torchvision's VGG16 enables PRC), so the tests must never see the
user's torch hub; and a session must not leave its caches behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

PROBE_ENV = "GANZOO_TEST_ISOLATION_PROBE"
REPO = Path(__file__).resolve().parents[1]


def session_root() -> Path:
    return Path(os.environ["TORCH_HOME"]).parent


def test_torch_hub_and_caches_point_into_the_session_folder():
    from ganzoo_metrics import fidelity

    root = session_root()
    assert root.name.startswith("ganzoo-test-") and root.is_dir()
    hub = Path(torch.hub.get_dir())
    for path in (hub, fidelity.torch_fidelity_download_path(), Path(os.environ["XDG_CACHE_HOME"])):
        assert path.is_relative_to(root), path
    assert not hub.is_relative_to(Path.home() / ".cache")
    assert not fidelity.torch_fidelity_download_path().exists()  # nothing stray can switch IS on
    # subprocesses the tests start (ganzoo train, bench workers) inherit the same folders
    code = "import torch; print(torch.hub.get_dir())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert Path(out.stdout.strip()) == hub


def test_probe_records_its_session_folders():
    """Runs only as the inner session of the next test."""
    if PROBE_ENV not in os.environ:
        pytest.skip("runs only inside test_session_folders_are_removed_when_the_session_ends")
    hub = Path(torch.hub.get_dir())
    assert hub.is_relative_to(session_root()), hub  # never write into a real torch hub
    (hub / "checkpoints").mkdir(parents=True)
    (hub / "checkpoints" / "downloaded-during-the-session.pth").write_bytes(b"x")  # as a download would
    record = {"root": str(session_root()), "torch_home": os.environ["TORCH_HOME"], "hub": str(hub),
              "xdg_cache": os.environ["XDG_CACHE_HOME"]}
    Path(os.environ[PROBE_ENV]).write_text(json.dumps(record))


def test_session_folders_are_removed_when_the_session_ends(tmp_path):
    probe = tmp_path / "probe.json"
    node = f"{Path(__file__).resolve().relative_to(REPO)}::test_probe_records_its_session_folders"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", node], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, PROBE_ENV: str(probe)}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads(probe.read_text())
    assert Path(record["hub"]).is_relative_to(record["root"])
    assert record["torch_home"] != os.environ["TORCH_HOME"]  # its own folders, not this session's
    for name, path in record.items():
        assert not Path(path).exists(), f"{name} {path} was left behind"
