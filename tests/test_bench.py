"""`ganzoo bench`, `ganzoo ablate` and `ganzoo eval` end to end with tiny settings."""

import json
import re

import pandas as pd
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


#: what a machine path looks like in a written file
MACHINE_PATH = re.compile(r"/(tmp|work|root|home)/")


def test_bench_records_ok_and_diverged_runs_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "bench"
    monkeypatch.setenv(FAULT_NAN_ENV, "3")  # every run diverges at step 3 ...
    code, output = invoke(["bench", "--models", TINY_GAN, "--steps", "5", "--out", str(out)] + SMALL)
    assert code == 1, output  # the report is written, then the exit status says a run diverged
    assert (out / "report" / "report.md").exists()
    assert "1 of 1 runs did not end ok (1 diverged)" in output.strip().splitlines()[-1]
    monkeypatch.delenv(FAULT_NAN_ENV)
    code, output = invoke(["bench", "--models", TINY_GAN, "--seeds", "0,1", "--steps", "5", "--out", str(out),
                           "--resume", "--allow-failures"] + SMALL)
    assert code == 0, output
    assert "skip gan-int-cls" in output  # seed 0 is already in the store
    rows = ResultStore(out / "results.sqlite").runs().sort_values("seed")
    # five steps leave a tiny GAN's samples all alike: the collapse check may say so, metrics stay recorded
    assert rows.iloc[0]["status"] == "diverged" and rows.iloc[1]["status"] in ("ok", "collapsed")
    assert "step 3" in rows.iloc[0]["reason"]
    ok = rows.iloc[1]
    for col in ("metric.caption-accuracy.shape", "metric.fid", "metric.kid", "metric.r-precision"):
        assert col in rows.columns and ok[col] == ok[col], col  # recorded, finite
    assert ok["budget"] == "steps=5" and ok["seed"] == 1 and isinstance(ok["versions"], dict)
    assert ok["git_rev"] and ok["device"]
    assert rows["git_rev"].nunique() == 1  # one revision per bench, even across a resume
    assert ok["run_dir"] == "runs/" + (out / "runs").glob("*-s1").__next__().name  # relative to the bench folder
    report = (out / "report" / "report.md").read_text()
    assert "diverged" in report and "step 3" in report
    assert (out / "runs.csv").exists() and (out / "report" / "report.html").exists()
    assert list((out / "report" / "figures").glob("*.png"))
    assert report.count("git_rev") == 1  # recorded once, in the environment table
    assert_no_machine_paths(out, tmp_path)


def assert_no_machine_paths(out, tmp_path):
    """The store, its CSV exports and the report hold no absolute path of this machine."""
    texts = {"store": ResultStore(out, create=False).runs().to_csv(),
             "curves": ResultStore(out, create=False).curves().to_csv()}
    for name in ("runs.csv", "curves.csv", "report/report.md", "report/report.html"):
        text = (out / name).read_text(encoding="utf-8")
        texts[name] = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "data:", text)  # embedded images
    for name, text in texts.items():
        found = MACHINE_PATH.search(text)
        assert found is None, f"{name}: {text[max(found.start() - 80, 0):found.end() + 80]}"
        assert str(tmp_path) not in text and str(out.resolve()) not in text, name
    assert "<cache>/" in texts["report/report.md"]  # metric weights and references under the ganzoo cache


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


def test_store_records_paths_without_the_machine(tmp_path):
    """Paths in a row are stored relative to the bench folder, or as <cache>/..., <ganzoo>/..."""
    from pathlib import Path

    import ganzoo
    from ganzoo.text import default_cache_dir

    out = tmp_path / "bench"
    shipped = Path(ganzoo.__file__).resolve().parent.parent / "plugins" / "ganzoo_metrics" / "w.safetensors"
    row = {"bench_id": "bench", "model": "m", "variant": "", "seed": 0, "status": "failed",
           "run_dir": str(out / "runs" / "m-s0"),
           "command": f"ganzoo bench --out {out} --data-dir {tmp_path / 'birds'}",
           "reason": f"cannot read '{tmp_path / 'birds' / 'images.txt'}': missing.",
           "metric_info": {"fid": {"weights": str(default_cache_dir() / "inception" / "w.pth"),
                                   "evaluator": str(shipped)}},
           "samples": {"grid": out / "runs" / "m-s0" / "samples.png"}}
    store = ResultStore(out / "results.sqlite")
    store.add_run(row)
    got = store.runs().iloc[0]
    assert got["run_dir"] == "runs/m-s0"
    assert got["command"] == "ganzoo bench --out <out> --data-dir ../birds"
    assert got["reason"] == "cannot read '../birds/images.txt': missing."
    assert got["metric_info"]["fid"] == {"weights": "<cache>/inception/w.pth",
                                         "evaluator": "<ganzoo>/plugins/ganzoo_metrics/w.safetensors"}
    assert got["samples"]["grid"] == "runs/m-s0/samples.png"
    assert not MACHINE_PATH.search(store.runs().to_csv())
