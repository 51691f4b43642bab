"""`ganzoo bench --shard I/N` in separate processes, then `ganzoo report DIR` gathers them into one store."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.launchers.shards import parse_shard, shard_indices
from ganzoo.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
#: a request that fails later in the check: the option under test must be what stops it (no bench starts)
BAD_MODEL = "gan-int-cls:no_such_key=1"
TINY_GAN = "gan-int-cls:ngf=4,ndf=4,batch_size=8,image_size=16,z_dim=8"
TINY_SG = "stackgan:stage=1,gf_dim=4,df_dim=4,batch_size=8,image_size=16,z_dim=8,c_dim=8"
GRID = ["bench", "--models", f"{TINY_GAN},{TINY_SG}", "--seeds", "0,1", "--steps", "3", "--metrics", "caption-accuracy",
        "--eval-samples", "12", "--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32", "--device", "cpu",
        "--no-progress", "--text-norm", "zscore", "--allow-failures"]


def invoke(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def comparable(out: Path) -> list[tuple]:
    """model, variant, seed, status and metrics of every row (tiny runs are often 'collapsed')."""
    rows = ResultStore(out / "results.sqlite").runs()
    return [(r["model"], r["variant"], int(r["seed"]), r["status"], json.dumps(r["metrics"], sort_keys=True))
            for _, r in rows.iterrows()]


def test_shard_slices_are_disjoint_and_cover_the_grid():
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) is None
    slices = [shard_indices(10, (i, 3)) for i in range(3)]
    assert sorted(sum(slices, [])) == list(range(10)) and slices[0] == [0, 3, 6, 9]


@pytest.mark.parametrize("text", ["2/2", "1", "a/b", "-1/2", "0/0"])
def test_a_bad_shard_is_a_usage_error(tmp_path, text):
    out = tmp_path / "b"
    code, output = invoke(["bench", "--models", BAD_MODEL, "--steps", "3", "--out", str(out), "--shard", text])
    assert code == 2 and "--shard" in output, output
    assert not out.exists()


def _fake_shard(out: Path, index: int, count: int, keys: list[str], with_rows: bool) -> None:
    (out / "shards").mkdir(parents=True, exist_ok=True)
    mine = [i for i in range(len(keys)) if i % count == index]
    (out / "shards" / f"{index}-of-{count}.json").write_text(json.dumps(
        {"bench_id": out.name, "shard": [index, count], "grid": keys, "runs": [{"index": i, "key": keys[i]} for i in mine]}))
    for i in mine if with_rows else []:
        (out / "runs" / keys[i]).mkdir(parents=True, exist_ok=True)
        (out / "runs" / keys[i] / "bench-row.json").write_text(json.dumps(
            {"spec": {}, "row": {"bench_id": out.name, "model": "m", "variant": "", "seed": i, "status": "ok"}}))


def test_report_names_shards_missing_or_unfinished(tmp_path):
    out = tmp_path / "b"
    keys = ["m-s0", "m-s1", "m-s2"]
    _fake_shard(out, 0, 2, keys, with_rows=True)
    code, output = invoke(["report", str(out)])
    assert code == 2 and "shard(s) 1/2" in output and "have not run yet" in output, output
    _fake_shard(out, 1, 2, keys, with_rows=False)
    code, output = invoke(["report", str(out)])
    assert code == 2 and "1 of the 3 runs" in output and "m-s1" in output, output
    assert not (out / "results.sqlite").exists()


@pytest.mark.slow
def test_two_shards_in_two_processes_give_the_rows_of_one_bench(tmp_path):
    code, output = invoke(GRID + ["--out", str(tmp_path / "whole"), "--jobs", "2"])
    assert code == 0, output
    expected = comparable(tmp_path / "whole")
    assert len(expected) == 4

    out = tmp_path / "sharded"
    shards = [subprocess.Popen([sys.executable, "-m", "ganzoo", *GRID, "--out", str(out), "--shard", f"{i}/2"],
                               cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True) for i in range(2)]
    for shard in shards:
        log, _ = shard.communicate(timeout=600)
        assert shard.returncode == 0, log
        assert "once every shard is: ganzoo report" in log
    assert not (out / "results.sqlite").exists()  # the shards write no shared file
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["0-of-2.json", "1-of-2.json"]

    code, output = invoke(["report", str(out)])
    assert code == 0 and "gathered 4 run(s)" in output, output
    assert comparable(out) == expected  # plan order, same statuses and metrics
    assert (out / "report" / "report.md").exists() and (out / "runs.csv").exists()
    assert len(ResultStore(out / "results.sqlite").curves()) > 0  # loss curves came along

    code, output = invoke(["report", str(out)])  # gathering again adds nothing
    assert code == 0 and "gathered 0 run(s)" in output and comparable(out) == expected
    code, output = invoke(GRID + ["--out", str(out), "--shard", "1/2", "--resume"])
    assert code == 0 and output.count("this shard already ran it") == 2, output
