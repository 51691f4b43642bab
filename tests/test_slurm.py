"""`--launcher slurm`: runs as submitit jobs (local executor here), sbatch resources, reattaching with --resume."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.bench import BenchPlan, bench_preset, run_bench, run_key
from ganzoo.cli import cli
from ganzoo.runs import RunSpec
from ganzoo.store import ResultStore

submitit = pytest.importorskip("submitit")

from ganzoo.launchers import slurm  # noqa: E402
from ganzoo.launchers.slurm import EXECUTOR_ENV, SlurmOptions, jobs_file, sbatch_script  # noqa: E402

TINY_GAN = {"ngf": "4", "ndf": "4", "batch_size": "8", "image_size": "16", "z_dim": "8"}
TINY_SG = {"stage": "1", "gf_dim": "4", "df_dim": "4", "batch_size": "8", "image_size": "16", "z_dim": "8",
           "c_dim": "8"}
ROOT = Path(__file__).resolve().parents[1]
#: a request that fails later in the check: the option under test must be what stops it (no bench starts)
BAD_MODEL = "gan-int-cls:no_such_key=1"

#: builds the 2 models x 2 seeds grid of these tests in a separate process (argv: OUT LAUNCHER [resume])
GRID_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_slurm import grid_plan
from ganzoo.bench import run_bench
run_bench(grid_plan(Path(sys.argv[1]), launcher=sys.argv[2]))
"""


def grid_plan(out: Path, launcher: str = "local", **kw) -> BenchPlan:
    """gan-int-cls and stackgan at tiny widths, seeds 0 and 1, 3 steps, 12 samples for caption accuracy."""
    settings = dict(bench_preset("cpu"))
    settings.update(metrics=["caption-accuracy"], eval_samples=12, grid_captions=2, grid_samples=2)
    specs = [RunSpec(model=model, overrides=dict(overrides), dataset_options={"n_train": 64, "n_test": 32},
                     text_norm="zscore", seed=seed, steps=3)
             for model, overrides in (("gan-int-cls", TINY_GAN), ("stackgan", TINY_SG)) for seed in (0, 1)]
    if launcher == "slurm":
        kw.setdefault("slurm", SlurmOptions(gpus_per_run=0, time="20"))
    return BenchPlan(bench_id="grid", out=out, specs=specs, preset=settings, device="cpu", progress=False,
                     command="ganzoo bench (test)", launcher=launcher, **kw)


def comparable(out: Path) -> list[tuple]:
    """model, variant, seed, status and metrics of every row (tiny runs are often 'collapsed')."""
    rows = ResultStore(out / "results.sqlite").runs()
    return [(r["model"], r["variant"], int(r["seed"]), r["status"], json.dumps(r["metrics"], sort_keys=True))
            for _, r in rows.iterrows()]


def _pid_alive(pid: int) -> bool:
    return slurm._pid_alive(pid)


def test_sbatch_script_asks_for_the_requested_resources(tmp_path):
    opts = SlurmOptions(partition="gpu-long", time="2-00:00:00", gpus_per_run=4, qos="high", account="vision",
                        params=["mem=64G", "cpus_per_task=16", "constraint=a100", "mail-user=me@lab.org",
                                "setup=module load cuda/12.1"])
    plan = grid_plan(tmp_path / "b", launcher="slurm", slurm=opts)
    script = sbatch_script(plan, runs=4)
    lines = set(script.splitlines())
    for flag in ("--partition=gpu-long", "--time=2880", "--gpus-per-node=4", "--qos=high", "--account=vision",
                 "--mem=64G", "--cpus-per-task=16", "--constraint=a100", "--mail-user=me@lab.org", "--nodes=1",
                 "--ntasks-per-node=1", "--job-name=ganzoo-grid", "--array=0-3%4"):
        assert f"#SBATCH {flag}" in lines, (flag, script)
    assert "module load cuda/12.1" in lines
    # one log folder per array member, under the bench folder
    assert f"#SBATCH --output={(tmp_path / 'b').resolve()}/slurm/%A_%a/%A_%a_0_log.out" in lines, script
    assert "-m submitit.core._submit" in script
    single = sbatch_script(replace(plan, slurm=SlurmOptions(gpus_per_run=0, time="90m")), runs=1)
    assert "#SBATCH --time=90" in single and "--array" not in single and "gpus-per-node" not in single


def test_a_run_on_several_gpus_is_launched_by_torchrun_in_its_job(tmp_path, monkeypatch):
    started = []

    class FakeProc:
        def __init__(self, command, **kw):
            started.append((command, kw["env"]))

        def wait(self):
            return 0

        def send_signal(self, sig):
            pass

    monkeypatch.setattr(subprocess, "Popen", FakeProc)
    (tmp_path / "worker-task.json").write_text(json.dumps({"threads": 0}))
    assert slurm.run_worker_job(str(tmp_path), nproc=4) == 0
    assert slurm.run_worker_job(str(tmp_path), nproc=1) == 0
    (multi, env4), (single, env1) = started
    assert multi[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4", "-m"]
    assert multi[-3:] == ["ganzoo", "worker", str(tmp_path)]
    assert single[1:] == ["-m", "ganzoo", "worker", str(tmp_path)]
    assert "GANZOO_WORKER_PARENT" not in env4 and env1["GANZOO_WORKER_PARENT"] == str(os.getpid())
    assert json.loads((tmp_path / "launcher-exit.json").read_text())["returncode"] == 0


def test_without_submitit_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit raises ImportError
    out = tmp_path / "b"
    result = CliRunner().invoke(cli, ["bench", "--models", BAD_MODEL, "--steps", "3", "--out", str(out),
                                      "--launcher", "slurm", "--device", "cpu"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "pip install 'ganzoo[slurm]'" in lines[0], result.output
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--slurm-partition", "gpu"], "--slurm-partition needs --launcher slurm"),
    (["--launcher", "slurm", "--slurm-time", "soon"], "--slurm-time 'soon' is not a time limit"),
    (["--launcher", "slurm", "--slurm-param", "mem"], "--slurm-param takes KEY=VALUE"),
    (["--launcher", "slurm", "--gpus-per-run", "0", "--device", "cuda"], "the jobs would have no GPU"),
    (["--launcher", "slurm", "--run-timeout", "60"], "--slurm-time limits each run"),
])
def test_bad_slurm_options_are_usage_errors(tmp_path, args, message):
    out = tmp_path / "b"
    result = CliRunner().invoke(cli, ["bench", "--models", BAD_MODEL, "--steps", "3", "--out", str(out)] + args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not out.exists()


@pytest.mark.slow
def test_grid_through_submitit_gives_the_local_rows_and_resume_reattaches(tmp_path, monkeypatch, capsys):
    """2 models x 2 seeds as submitit jobs; the bench is killed once they are submitted; --resume reattaches."""
    run_bench(grid_plan(tmp_path / "local", jobs=2))
    expected = comparable(tmp_path / "local")
    assert len(expected) == 4

    out = tmp_path / "slurm"
    env = dict(os.environ, **{EXECUTOR_ENV: "local"})
    script = GRID_SCRIPT.format(tests=str(Path(__file__).parent))
    bench = subprocess.Popen([sys.executable, "-c", script, str(out), "slurm"], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not jobs_file(grid_plan(out)).exists():
        assert bench.poll() is None and time.monotonic() < deadline, bench.stdout.read().decode()
        time.sleep(0.05)
    bench.send_signal(signal.SIGKILL)  # the bench dies; its jobs go on
    bench.wait()
    submitted = json.loads(jobs_file(grid_plan(out)).read_text())["runs"]
    assert len(submitted) == 4
    alive = [e["job_id"] for e in submitted.values() if _pid_alive(int(e["job_id"]))]
    assert alive, "every job ended before the bench was killed"
    job_folders = sorted(p.name for p in (out / "slurm").iterdir() if p.is_dir())

    monkeypatch.setenv(EXECUTOR_ENV, "local")
    capsys.readouterr()
    run_bench(grid_plan(out, launcher="slurm", resume=True))
    output = capsys.readouterr().out
    assert "submitted" not in output, output  # nothing submitted a second time
    reattached = [line for line in output.splitlines() if line.startswith("reattach ")]
    assert reattached and all(f"to job {submitted[line.split()[1]]['job_id']} " in line for line in reattached)
    assert json.loads(jobs_file(grid_plan(out)).read_text())["runs"] == submitted
    assert sorted(p.name for p in (out / "slurm").iterdir() if p.is_dir()) == job_folders
    assert "running" in output and "progress: 0 queued, 0 running, 4 done, 0 failed (of 4)" in output, output
    assert comparable(out) == expected
    rows = ResultStore(out / "results.sqlite").runs()
    assert {r["slurm_job_id"] for r in rows["extra"]} == {e["job_id"] for e in submitted.values()}
    for key in submitted:
        assert (out / "runs" / key / "worker.log").read_text().count("=== ganzoo worker") == 1  # one attempt each
    assert (out / "report" / "report.md").exists()
