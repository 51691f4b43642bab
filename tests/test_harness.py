"""The training harness: budgets, logs, checkpoints, exact resume after SIGKILL, divergence."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganzoo.errors import GanzooError, UsageError
from ganzoo.harness import FAULT_NAN_ENV, train
from ganzoo.runs import RunSpec, load_run

TINY = {"ngf": 4, "ndf": 4, "batch_size": 8, "image_size": 16, "z_dim": 8}


def tiny_spec(**kw):
    base = dict(model="gan-int-cls", preset="cpu", overrides=dict(TINY), dataset="shapes",
                dataset_options={"n_train": 96, "n_test": 48}, text_norm="zscore", seed=3,
                checkpoint_every=4, log_every=2)
    base.update(kw)
    return RunSpec(**base)


def test_train_writes_run_and_respects_step_budget(tmp_path):
    result = train(tiny_spec(steps=6), tmp_path / "run", device="cpu", progress=False)
    assert result.status == "ok" and result.steps == 6 and result.images_seen == 48
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["spec"]["seed"] == 3 and record["config"]["ngf"] == 4
    assert record["environment"]["versions"]["torch"] == torch.__version__.split("+")[0] or \
        record["environment"]["versions"]["torch"].startswith(torch.__version__.split("+")[0])
    assert "git_rev" in record["environment"] and record["environment"]["device"] == "cpu"
    logged = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [1, 2, 4, 6]
    run = load_run(tmp_path / "run")
    assert run.model.config["ngf"] == 4 and not any(n.training for n in run.model.networks().values())


def test_images_budget_and_epochs(tmp_path):
    r = train(tiny_spec(images_budget=20), tmp_path / "a", device="cpu", progress=False)
    assert r.steps == 3  # ceil(20 / 8)
    r = train(tiny_spec(epochs=1), tmp_path / "b", device="cpu", progress=False)
    assert r.steps == 96 // 8


def test_refuses_to_overwrite_and_needs_budget(tmp_path):
    train(tiny_spec(steps=1), tmp_path / "run", device="cpu", progress=False)
    with pytest.raises(UsageError, match="--resume"):
        train(tiny_spec(steps=1), tmp_path / "run", device="cpu", progress=False)
    with pytest.raises(UsageError, match="budget"):
        train(tiny_spec(), tmp_path / "other", device="cpu", progress=False)
    with pytest.raises(GanzooError, match="nothing to resume"):
        train(tiny_spec(steps=2), tmp_path / "empty", device="cpu", resume=True, progress=False)


def test_forced_nan_stops_run_as_diverged(tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_NAN_ENV, "5")
    result = train(tiny_spec(steps=20), tmp_path / "run", device="cpu", progress=False)
    assert result.status == "diverged" and result.steps == 5
    assert "step 5" in result.reason and "nan" in result.reason
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["harness"]["step"] == 4  # the last good checkpoint survives


def _weights(run_dir):
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    return load_file(str(run_dir / "checkpoint" / state["weights"])), state["harness"]["step"]


def _train_cmd(out, steps):
    return [sys.executable, "-m", "ganzoo", "train", "--model", "gan-int-cls", "--device", "cpu",
            "--dataset-opt", "n_train=96", "--dataset-opt", "n_test=48", "--text-norm", "zscore",
            "--seed", "5", "--steps", str(steps), "--checkpoint-every", "3", "--no-progress", "--out", str(out),
            *sum((["--set", f"{k}={v}"] for k, v in TINY.items()), [])]


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    steps = 30
    subprocess.run(_train_cmd(tmp_path / "full", steps), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(_train_cmd(tmp_path / "killed", steps), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_file = tmp_path / "killed" / "checkpoint" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if state_file.exists() and json.loads(state_file.read_text())["harness"]["step"] >= 9:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, killed_at = _weights(tmp_path / "killed")
    assert 0 < killed_at < steps, "the run must be killed in the middle"
    resume = [sys.executable, "-m", "ganzoo", "train", "--resume", str(tmp_path / "killed"),
              "--steps", str(steps), "--no-progress", "--device", "cpu"]
    subprocess.run(resume, check=True, env=env, capture_output=True)
    full, s_full = _weights(tmp_path / "full")
    resumed, s_res = _weights(tmp_path / "killed")
    assert s_full == s_res == steps
    assert full.keys() == resumed.keys()
    for k in full:
        if k.startswith("rng."):
            continue
        assert torch.equal(full[k], resumed[k]), k


@pytest.mark.parametrize("speed", [{}, {"channels_last": True}])
def test_resume_equals_uninterrupted_stackgan(tmp_path, speed):
    """In-process stop/resume of StackGAN (fused Adam, channels_last) matches an uninterrupted run."""
    over = {"stage": 1, "gf_dim": 4, "df_dim": 4, "image_size": 16, "batch_size": 8, "z_dim": 8, "c_dim": 8}
    full = train(tiny_spec(model="stackgan", overrides=over, steps=8, speed=speed), tmp_path / "full",
                 device="cpu", progress=False)
    train(tiny_spec(model="stackgan", overrides=over, steps=4, speed=speed), tmp_path / "part",
          device="cpu", progress=False)
    resumed = train(tiny_spec(model="stackgan", overrides=over, steps=8, speed=speed), tmp_path / "part",
                    device="cpu", resume=True, progress=False)
    assert full.steps == resumed.steps == 8
    a, _ = _weights(tmp_path / "full")
    b, _ = _weights(tmp_path / "part")
    for k in a:
        if not k.startswith("rng."):
            assert torch.equal(a[k], b[k]), k
