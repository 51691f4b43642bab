"""torchrun with two CPU ranks (gloo): identical weights on both ranks, one set of outputs."""

import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from ganzoo.distributed import weights_digest
from ganzoo.runs import load_run

TINY_STACKGAN = {"stage": 1, "gf_dim": 4, "df_dim": 4, "image_size": 16, "batch_size": 4, "z_dim": 8, "c_dim": 8}


TINY_BASELINE = {"image_size": 16, "batch_size": 4, "z_dim": 8}


@pytest.mark.parametrize("model, overrides", [("stackgan", TINY_STACKGAN), ("gan-int-cls", TINY_BASELINE),
                                              ("ebgan", TINY_BASELINE)])
def test_torchrun_two_ranks(tmp_path, model, overrides):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "ganzoo", "train", "--model", model, "--device", "cpu", "--steps", "5", "--no-progress",
           "--dataset-opt", "n_train=64", "--dataset-opt", "n_test=16", "--text-norm", "zscore",
           "--out", str(out), "--checkpoint-every", "2"]
    for k, v in overrides.items():
        cmd += ["--set", f"{k}={v}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.findall(r"\[rank (\d)/2\] step (\d+) weights (\w+) buffers (\w+)", proc.stdout)
    assert sorted(r for r, *_ in found) == ["0", "1"], proc.stdout
    assert len({(step, w, b) for _, step, w, b in found}) == 1, found  # both ranks: same step, weights, BN stats
    # one set of outputs, written by rank 0 alone
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["checkpoint/state.json", "checkpoint/weights-000000005.safetensors", "log.jsonl",
                     "result.json", "run.json", "text.safetensors"], files
    steps_logged = Counter(line.split(",")[0] for line in (out / "log.jsonl").read_text().splitlines())
    assert all(c == 1 for c in steps_logged.values())
    assert proc.stdout.count("ok: 5 steps") == 1
    # what was saved is what the ranks hold
    run = load_run(out)
    assert weights_digest(run.model) == found[0][2]
    assert run.record["environment"]["world_size"] == 2
