"""`ganzoo bench`, `ganzoo ablate` and `ganzoo eval` end to end with tiny settings."""

import json

from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.harness import FAULT_NAN_ENV
from ganzoo.store import ResultStore

SMALL = ["--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32", "--device", "cpu", "--no-progress",
         "--text-norm", "zscore", "--eval-samples", "12"]
TINY_GAN = "gan-int-cls:ngf=4,ndf=4,batch_size=8,image_size=16,z_dim=8"
TINY_SG = "stage=1,gf_dim=4,df_dim=4,batch_size=8,image_size=16,z_dim=8,c_dim=8"
FAST_METRICS = "caption-accuracy,r-precision,domain-fid,diversity,smoothness,sample-throughput,train-throughput"


def invoke(args, **kw):
    result = CliRunner().invoke(cli, args, catch_exceptions=False, **kw)
    return result.exit_code, result.output


def test_bench_records_ok_and_diverged_runs_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "bench"
    monkeypatch.setenv(FAULT_NAN_ENV, "3")  # every run diverges at step 3 ...
    code, output = invoke(["bench", "--models", TINY_GAN, "--steps", "5", "--out", str(out)] + SMALL)
    assert code == 0, output
    monkeypatch.delenv(FAULT_NAN_ENV)
    code, output = invoke(["bench", "--models", TINY_GAN, "--seeds", "0,1", "--steps", "5", "--out", str(out),
                           "--resume"] + SMALL)
    assert code == 0, output
    assert "skip gan-int-cls" in output  # seed 0 is already in the store
    rows = ResultStore(out / "results.sqlite").runs().sort_values("seed")
    assert list(rows["status"]) == ["diverged", "ok"]
    assert "step 3" in rows.iloc[0]["reason"]
    ok = rows.iloc[1]
    for col in ("metric.caption-accuracy.shape", "metric.fid", "metric.kid", "metric.r-precision"):
        assert col in rows.columns and ok[col] == ok[col], col  # recorded, finite
    assert ok["budget"] == "steps=5" and ok["seed"] == 1 and isinstance(ok["versions"], dict)
    assert ok["git_rev"] and ok["device"]
    report = (out / "report" / "report.md").read_text()
    assert "diverged" in report and "step 3" in report
    assert (out / "runs.csv").exists() and (out / "report" / "report.html").exists()
    assert list((out / "report" / "figures").glob("*.png"))


def test_ablate_ca_end_to_end(tmp_path):
    out = tmp_path / "ablate"
    code, output = invoke(["ablate", "ca", "--model", f"stackgan:{TINY_SG}", "--seeds", "0,1", "--steps", "3",
                           "--out", str(out)] + SMALL)
    assert code == 0, output
    rows = ResultStore(out / "results.sqlite").runs()
    assert sorted(rows["variant"].str.contains("ca=false")) == [False, False, True, True]
    assert (rows["status"] == "ok").all()
    assert rows["metric.diversity"].notna().all() and rows["metric.smoothness"].notna().all()
    text = (out / "ablation" / "report.md").read_text()
    assert "95%" in text and "not comparable" in text and "ca=false" in text


def test_eval_prints_and_records_metrics(tmp_path):
    run = tmp_path / "run"
    code, output = invoke(["train", "--model", TINY_GAN, "--steps", "6", "--out", str(run)]
                          + [a for a in SMALL if a not in ("--eval-samples", "12")])
    assert code == 0, output
    code, output = invoke(["eval", "--checkpoint", str(run), "--samples", "16", "--metrics", FAST_METRICS,
                           "--device", "cpu"])
    assert code == 0, output
    recorded = json.loads((run / "eval.json").read_text())
    assert recorded["samples"] == 16 and recorded["split"] == "test"
    assert "caption-accuracy.colour" in recorded["values"] and "caption-accuracy.colour" in output
    assert recorded["values"]["train-throughput.train"] > 0
