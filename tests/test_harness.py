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


def test_a_run_trained_before_a_key_existed_loads_with_that_keys_default(tmp_path):
    # before the key existed, D always had BatchNorm: the key's default (true) keeps that behaviour
    train(tiny_spec(steps=2, overrides=dict(TINY, d_batchnorm="true")), tmp_path / "run", device="cpu",
          progress=False)
    path = tmp_path / "run" / "run.json"
    record = json.loads(path.read_text())
    assert record["config"].pop("d_batchnorm") is True
    path.write_text(json.dumps(record))
    run = load_run(tmp_path / "run")  # as a run from before the key was added
    assert run.model.config["d_batchnorm"] is True and run.model.config["ngf"] == 4


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


def _log(run_dir) -> list[dict]:
    path = Path(run_dir) / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _steps(records) -> list[int]:
    return [r["step"] for r in records]


def _assert_resumed_at(before: list[dict], after: list[dict], at: int, total: int, full_log: list[dict]):
    """``before``/``after``: RUN/log.jsonl before and after the resume (every step logged), ``at``
    the checkpoint's step. The resumed process must log steps at+1 .. total and nothing else (a
    resume that retrained from step 0 logs 1, 2, ... again, even when the seeded retraining ends
    at the same weights), and the run's history up to the checkpoint plus the resumed steps
    must be the uninterrupted run's log, value for value."""
    assert after[:len(before)] == before, "the resumed process rewrote the existing log"
    resumed = after[len(before):]
    assert _steps(resumed) == list(range(at + 1, total + 1)), \
        f"the resumed process logged steps {_steps(resumed)}, not {at + 1}..{total}: it did not start at step {at}"
    history = [r for r in before if r["step"] <= at] + resumed  # later lines were lost work of the killed run
    assert _steps(history) == list(range(1, total + 1))  # no repeated steps, no gaps
    assert history == full_log


def _assert_same_weights(a_dir, b_dir):
    a, _ = _weights(a_dir)
    b, _ = _weights(b_dir)
    assert a.keys() == b.keys()
    for k in a:
        if not k.startswith("rng."):
            assert torch.equal(a[k], b[k]), k


# The runs that get killed start as plain `train()` calls in a subprocess (the CLI has no
# --log-every, and the resume check needs every step in the log); the resume is the CLI's.
_TRAIN = """
import json, sys
from ganzoo.harness import train
from ganzoo.runs import RunSpec
train(RunSpec(**json.loads(sys.argv[1])), sys.argv[2], device="cpu", progress=False)
"""


def _train_cmd(out, steps):
    spec = dict(model="gan-int-cls", preset="cpu", overrides=TINY, dataset="shapes",
                dataset_options={"n_train": 96, "n_test": 48}, text_norm="zscore", seed=5, steps=steps,
                checkpoint_every=3, log_every=1)
    return [sys.executable, "-c", _TRAIN, json.dumps(spec), str(out)]


def test_sigkill_then_resume_continues_at_the_checkpoint_and_is_bit_identical(tmp_path):
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
    before = _log(tmp_path / "killed")
    assert _steps(before) == list(range(1, len(before) + 1)) and len(before) >= killed_at
    resume = [sys.executable, "-m", "ganzoo", "train", "--resume", str(tmp_path / "killed"),
              "--steps", str(steps), "--no-progress", "--device", "cpu"]
    subprocess.run(resume, check=True, env=env, capture_output=True)
    _assert_resumed_at(before, _log(tmp_path / "killed"), killed_at, steps, _log(tmp_path / "full"))
    _, s_full = _weights(tmp_path / "full")
    _, s_res = _weights(tmp_path / "killed")
    assert s_full == s_res == steps
    _assert_same_weights(tmp_path / "full", tmp_path / "killed")


STACKGAN_TINY = {"stage": 1, "gf_dim": 4, "df_dim": 4, "image_size": 16, "batch_size": 8, "z_dim": 8, "c_dim": 8}


@pytest.mark.parametrize("speed", [{}, {"channels_last": True}])
def test_resume_equals_uninterrupted_stackgan(tmp_path, speed):
    """In-process stop/resume of StackGAN (fused Adam, channels_last) matches an uninterrupted run."""
    def spec(steps):
        return tiny_spec(model="stackgan", overrides=STACKGAN_TINY, steps=steps, speed=speed, log_every=1)

    full = train(spec(8), tmp_path / "full", device="cpu", progress=False)
    train(spec(4), tmp_path / "part", device="cpu", progress=False)
    before = _log(tmp_path / "part")
    resumed = train(spec(8), tmp_path / "part", device="cpu", resume=True, progress=False)
    assert full.steps == resumed.steps == 8
    _assert_resumed_at(before, _log(tmp_path / "part"), 4, 8, _log(tmp_path / "full"))
    _assert_same_weights(tmp_path / "full", tmp_path / "part")


# Stage 2 with a 3-step in-run Stage-I phase, 6 steps in all, tiny widths (Stage-II at 64 px).
STAGE2_TINY = {"stage": 2, "stage1_steps": 3, "ca": True, "gf_dim": 4, "df_dim": 4, "r_num": 1, "image_size": 16,
               "batch_size": 4, "stage2_batch_size": 4, "z_dim": 8, "c_dim": 8}
STAGE2_STEPS = 6


def _stage2_spec(steps):
    return tiny_spec(model="stackgan", overrides=STAGE2_TINY, steps=steps, log_every=1, checkpoint_every=100)


@pytest.fixture(scope="module")
def stage2_uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("stage2") / "full"
    result = train(_stage2_spec(STAGE2_STEPS), out, device="cpu", progress=False)
    assert result.status == "ok" and result.steps == STAGE2_STEPS
    assert [r["stage"] for r in _log(out)] == [1, 1, 1, 2, 2, 2]  # the switch happens after step 3
    return out


@pytest.mark.parametrize("stop", [2, 3, 4], ids=["before-switch", "at-switch", "after-switch"])
def test_resume_across_the_stackgan_stage_switch(tmp_path, stage2_uninterrupted, stop):
    """A stage=2 run stopped before, at or after its Stage-I -> Stage-II switch resumes at the
    checkpoint's step, switches at the same step, and ends with the uninterrupted run's weights."""
    train(_stage2_spec(stop), tmp_path / "part", device="cpu", progress=False)
    before = _log(tmp_path / "part")
    assert _steps(before) == list(range(1, stop + 1))
    resumed = train(_stage2_spec(STAGE2_STEPS), tmp_path / "part", device="cpu", resume=True, progress=False)
    assert resumed.status == "ok" and resumed.steps == STAGE2_STEPS
    after = _log(tmp_path / "part")
    assert [r["stage"] for r in after] == [1, 1, 1, 2, 2, 2]
    _assert_resumed_at(before, after, stop, STAGE2_STEPS, _log(stage2_uninterrupted))
    _assert_same_weights(stage2_uninterrupted, tmp_path / "part")
