"""Bench runs in worker processes: own peak memory, crashes/kills/timeouts as failed rows, --jobs, resume."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganzoo.bench import BenchPlan, bench_preset, plan_outcome, run_bench, run_key
from ganzoo.runs import RunSpec
from ganzoo.store import ResultStore
from ganzoo.worker import FAULT_ENV, LOG_FILE, threads_per_worker

TINY = {"ngf": "4", "ndf": "4", "batch_size": "8", "image_size": "16", "z_dim": "8"}
DATA = {"n_train": 64, "n_test": 32}


def tiny_plan(out: Path, seeds, steps=4, **kw) -> BenchPlan:
    settings = dict(bench_preset("cpu"))
    settings.update(metrics=["caption-accuracy"], eval_samples=12, grid_captions=2, grid_samples=2)
    specs = [RunSpec(model="gan-int-cls", overrides=dict(TINY), dataset_options=dict(DATA), text_norm="zscore",
                     seed=s, steps=steps) for s in seeds]
    return BenchPlan(bench_id=out.name, out=out, specs=specs, preset=settings, device="cpu", progress=False,
                     command="ganzoo bench (test)", **kw)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in fh)
    except OSError:
        return False


def _worker_pid(run_dir: Path) -> int | None:
    found = re.findall(r"worker pid (\d+)", (run_dir / LOG_FILE).read_text(errors="replace"))
    return int(found[-1]) if found else None


def test_peak_memory_is_the_process_own():
    """A worker started by a big process reports its own peak, not its parent's (ru_maxrss would)."""
    ballast = bytearray(1200 * 2**20)
    ballast[:: 4096] = b"\1" * len(range(0, len(ballast), 4096))  # resident, not just reserved
    code = "from ganzoo.memory import process_peak_rss_mb; print(process_peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    from ganzoo.memory import process_peak_rss_mb

    assert process_peak_rss_mb() > 1200
    assert 10 < child < 900, child  # python + torch alone; the parent's 1.2 GB ballast is not counted
    del ballast


def test_threads_share_the_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("ganzoo.worker.usable_cores", lambda: 16)
    assert [threads_per_worker(n) for n in (1, 2, 3, 16, 32)] == [16, 8, 5, 1, 1]
    assert threads_per_worker(4, threads=3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # set by the user: an upper bound
    assert threads_per_worker(1) == 2 and threads_per_worker(16) == 1


def test_killed_worker_is_a_failed_row_and_the_bench_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "sigkill,1,-s0")  # seed 0's worker is killed with SIGKILL at step 1
    plan = tiny_plan(tmp_path / "bench", seeds=[0, 1], jobs=2)
    written = run_bench(plan)
    rows = ResultStore(plan.out).runs()
    assert list(rows["seed"]) == [0, 1]  # plan order, whichever worker finished first
    killed, other = rows.iloc[0], rows.iloc[1]
    assert killed["status"] == "failed"
    assert "SIGKILL" in killed["reason"] and "fault injection" in killed["reason"], killed["reason"]
    assert other["status"] in ("ok", "collapsed") and other["metric.caption-accuracy.shape"] >= 0
    assert other["extra"]["worker_peak_rss_mb"] > 0 and other["peak_memory_mb"] > 0
    assert [r["seed"] for r in plan_outcome(plan) if r["status"] == "failed"] == [0]
    report = Path(written["markdown"]).read_text()
    assert "SIGKILL" in report


def test_worker_past_its_memory_limit_is_a_failed_row_and_the_bench_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "hog,1,-s0")  # seed 0 allocates until its memory limit stops it
    plan = tiny_plan(tmp_path / "bench", seeds=[0, 1], jobs=2, run_memory_mb=4000)
    run_bench(plan)
    rows = ResultStore(plan.out).runs()
    hog, other = rows.iloc[0], rows.iloc[1]
    assert hog["status"] == "failed" and "allocate" in hog["reason"], hog["reason"]
    assert other["status"] in ("ok", "collapsed"), other["reason"]  # the same limit, a normal run fits


def test_worker_past_run_timeout_is_killed_and_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "hang,1")
    plan = tiny_plan(tmp_path / "bench", seeds=[0], run_timeout=12)
    started = time.monotonic()
    run_bench(plan)
    assert time.monotonic() - started < 120
    row = ResultStore(plan.out).runs().iloc[0]
    assert row["status"] == "failed" and "timed out after 12s" in row["reason"], row["reason"]
    assert f"runs/{run_key(plan.specs[0])}/{LOG_FILE}" in row["reason"]
    pid = _worker_pid(plan.out / "runs" / run_key(plan.specs[0]))
    assert pid is None or not _alive(pid)


def test_jobs_2_records_what_jobs_1_records(tmp_path):
    one = tiny_plan(tmp_path / "one", seeds=[0, 1], jobs=1)
    two = tiny_plan(tmp_path / "two", seeds=[0, 1], jobs=2)
    run_bench(one)
    run_bench(two)
    a, b = ResultStore(one.out).runs(), ResultStore(two.out).runs()
    assert list(a["seed"]) == list(b["seed"]) == [0, 1]
    assert [e["threads"] for e in a["extra"]] == [e["threads"] for e in b["extra"]]
    metrics = sorted(c for c in a.columns if c.startswith("metric.") and "throughput" not in c)
    assert metrics and metrics == sorted(c for c in b.columns if c.startswith("metric.") and "throughput" not in c)
    for column in metrics + ["status", "steps", "images_seen", "reason"]:
        assert list(a[column].fillna(-1)) == list(b[column].fillna(-1)), column
    curves = [ResultStore(p.out).curves() for p in (one, two)]
    curves = [c[~c["name"].str.contains("wall_time")]["value"].tolist() for c in curves]  # clock time differs
    assert curves[0] == curves[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_bench_killed_mid_run_takes_its_worker_along_and_resumes_from_the_checkpoint(tmp_path):
    out = tmp_path / "bench"
    args = [sys.executable, "-m", "ganzoo", "bench", "--models", "gan-int-cls:" + ",".join(f"{k}={v}" for k, v in TINY.items()),
            "--steps", "30", "--checkpoint-every", "10", "--out", str(out), "--device", "cpu", "--no-progress",
            "--text-norm", "zscore", "--eval-samples", "12", "--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32",
            "--allow-failures"]
    env = {**os.environ, FAULT_ENV: "hang,25"}  # the harness logs step 25 just after the step-20 checkpoint
    bench = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = out / "runs" / f"gan-int-cls-{'_'.join(f'{k}-{v}' for k, v in sorted(TINY.items()))}-s0"
    deadline = time.monotonic() + 300
    while not ((run_dir / LOG_FILE).exists() and "fault injection" in (run_dir / LOG_FILE).read_text()):
        assert bench.poll() is None and time.monotonic() < deadline, "the worker never reached step 25"
        time.sleep(0.5)
    worker = _worker_pid(run_dir)
    assert worker and _alive(worker)
    bench.send_signal(signal.SIGKILL)
    bench.wait()
    deadline = time.monotonic() + 15
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(worker), "the worker outlived its bench"
    assert not (out / "results.sqlite").exists() or ResultStore(out).runs().empty

    from click.testing import CliRunner

    from ganzoo.cli import cli

    result = CliRunner().invoke(cli, ["bench", *args[args.index("--models"):], "--resume"])
    assert result.exit_code == 0, result.output
    row = ResultStore(out).runs().iloc[0]
    assert row["status"] in ("ok", "collapsed") and row["steps"] == 30
    log = (run_dir / LOG_FILE).read_text()
    assert "resuming from the checkpoint at step 20" in log, log
    import json

    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if not any(k.startswith("eval.") for k in r)]  # loss records only
    assert steps == [1, 25, 25], steps  # the killed attempt logged 1 and 25; the resumed one started at 20
