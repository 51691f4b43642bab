"""``--data-dir`` and the worker's log name no folder of the machine: files record the data folder
relative to themselves (:meth:`RunSpec.to_record`) and readers get it back absolute
(:meth:`RunSpec.from_record`); the worker prints warnings and tracebacks with portable paths."""

import json
import os
import sys
import warnings
from pathlib import Path

import ganzoo
from ganzoo.bench_plan import BenchPlan, run_key
from ganzoo.runs import RunSpec, read_run_file, write_run_file

CHECKOUT = str(Path(ganzoo.__file__).resolve().parent.parent)


def machine_folders(tmp_path: Path) -> list[str]:
    return sorted({str(tmp_path), os.path.realpath(tmp_path), CHECKOUT})


def assert_portable(text: str, tmp_path: Path) -> None:
    for folder in machine_folders(tmp_path):
        assert folder not in text, f"{folder} in:\n{text}"


def birds_spec(tmp_path: Path, seed: int = 0) -> RunSpec:
    data_dir = tmp_path / "data" / "birds"
    data_dir.mkdir(parents=True, exist_ok=True)
    return RunSpec(model="gan-int-cls", dataset="cub", seed=seed, steps=3,
                   dataset_options={"data_dir": str(data_dir.resolve()), "cache": "true"})


def plan_for(tmp_path: Path, spec: RunSpec, **kw) -> BenchPlan:
    return BenchPlan(bench_id="b", out=tmp_path / "out", specs=[spec], preset={}, device="cpu", progress=False,
                     command="ganzoo bench (test)", **kw)


def test_run_file_records_data_dir_relative(tmp_path, monkeypatch):
    from ganzoo.harness import _spec_to_run

    monkeypatch.setattr(sys, "argv", ["ganzoo", "train"])
    spec = birds_spec(tmp_path)
    run_dir = tmp_path / "out" / "runs" / run_key(spec)
    write_run_file(run_dir, spec, {"ngf": 4}, {})
    assert_portable((run_dir / "run.json").read_text(), tmp_path)
    record = read_run_file(run_dir)
    assert record["spec"]["dataset_options"] == {"data_dir": "../../../data/birds", "cache": "true"}
    assert RunSpec.from_record(record["spec"], run_dir) == spec
    # what --resume reads back (load_run reads the same record the same way)
    (run_dir / "checkpoint").mkdir()
    (run_dir / "checkpoint" / "state.json").write_text("{}")
    resumed = _spec_to_run(RunSpec(model="gan-int-cls", steps=8), run_dir, resume=True)
    assert resumed.dataset_options["data_dir"] == spec.dataset_options["data_dir"] and resumed.steps == 8


def test_worker_task_records_data_dir_relative_and_resume_reuses_it(tmp_path):
    from ganzoo.worker import RESULT_FILE, TASK_FILE, _reusable_result, _task

    spec = birds_spec(tmp_path)
    plan = plan_for(tmp_path, spec, resume=True)
    run_dir = tmp_path / "out" / "runs" / run_key(spec)
    run_dir.mkdir(parents=True)
    (run_dir / TASK_FILE).write_text(json.dumps(_task(plan, spec, run_dir, 1, False), default=str))
    (run_dir / RESULT_FILE).write_text(json.dumps({"status": "ok", "run_dir": f"runs/{run_dir.name}"}))
    text = (run_dir / TASK_FILE).read_text()
    assert_portable(text, tmp_path)
    task = json.loads(text)
    assert task["spec"]["dataset_options"]["data_dir"] == "../../../data/birds"
    assert RunSpec.from_record(task["spec"], run_dir) == spec  # what the worker's main reads
    assert _reusable_result(plan, spec) == {"status": "ok", "run_dir": f"runs/{run_dir.name}"}
    elsewhere = RunSpec(**{**spec.to_json(), "dataset_options": {**spec.dataset_options, "data_dir": "/srv/birds"}})
    assert _reusable_result(plan, elsewhere) is None  # another data folder is another run


def test_shard_rows_and_slurm_jobs_match_in_record_form(tmp_path):
    from ganzoo.launchers.shards import ROW_FILE, _saved_row
    from ganzoo.launchers.slurm import _entry_matches, _read_result, _Tracked, jobs_file
    from ganzoo.worker import RESULT_FILE, TASK_FILE, _task

    spec = birds_spec(tmp_path)
    plan = plan_for(tmp_path, spec)
    run_dir = tmp_path / "out" / "runs" / run_key(spec)
    run_dir.mkdir(parents=True)
    recorded = spec.to_record(run_dir)
    assert_portable(json.dumps(recorded), tmp_path)
    (run_dir / ROW_FILE).write_text(json.dumps({"spec": recorded, "row": {"bench_id": "b", "status": "ok"}}))
    assert _saved_row(plan, spec) == {"bench_id": "b", "status": "ok"}
    entry = {"bench_id": "b", "spec": spec.to_record(jobs_file(plan).parent)}
    assert entry["spec"]["dataset_options"]["data_dir"] == "../../data/birds"
    assert _entry_matches(entry, plan, spec)
    # a SLURM job's result is read back against the worker-task.json of its run
    (run_dir / TASK_FILE).write_text(json.dumps(_task(plan, spec, run_dir, 0, False), default=str))
    (run_dir / RESULT_FILE).write_text(json.dumps({"status": "ok"}))
    assert _read_result(plan, _Tracked(0, spec, run_dir, None, "7")) == {"status": "ok", "slurm_job_id": "7"}


def test_older_records_with_an_absolute_data_dir_still_load(tmp_path):
    from ganzoo.harness import _spec_to_run
    from ganzoo.launchers.shards import ROW_FILE, _saved_row
    from ganzoo.launchers.slurm import _entry_matches
    from ganzoo.worker import RESULT_FILE, TASK_FILE, _reusable_result

    spec = birds_spec(tmp_path)
    plan = plan_for(tmp_path, spec, resume=True)
    run_dir = tmp_path / "out" / "runs" / run_key(spec)
    (run_dir / "checkpoint").mkdir(parents=True)
    (run_dir / "checkpoint" / "state.json").write_text("{}")
    old = spec.to_json()  # what an older ganzoo wrote: the data folder as typed (absolute)
    (run_dir / "run.json").write_text(json.dumps({"spec": old, "config": {}}))
    assert RunSpec.from_record(old, run_dir) == spec
    assert _spec_to_run(RunSpec(model="gan-int-cls"), run_dir, resume=True) == spec
    (run_dir / TASK_FILE).write_text(json.dumps({"spec": old, "bench_id": "b", "out": str(tmp_path / "out")}))
    (run_dir / RESULT_FILE).write_text(json.dumps({"status": "ok"}))
    assert _reusable_result(plan, spec) == {"status": "ok"}
    (run_dir / ROW_FILE).write_text(json.dumps({"spec": old, "row": {"bench_id": "b", "status": "ok"}}))
    assert _saved_row(plan, spec) == {"bench_id": "b", "status": "ok"}
    assert _entry_matches({"bench_id": "b", "spec": old}, plan, spec)


def test_cli_keeps_data_dir_absolute(tmp_path, monkeypatch):
    from ganzoo.cli.options import dataset_options

    monkeypatch.chdir(tmp_path)
    assert dataset_options("birds", ["cache=true"]) == {"cache": "true", "data_dir": str(tmp_path.resolve() / "birds")}
    assert dataset_options(None, ["data_dir=birds"])["data_dir"] == str(tmp_path.resolve() / "birds")


# ---- worker.log -----------------------------------------------------------------------------

def _python_shows_warnings(monkeypatch):
    """Warnings printed on stderr as plain Python prints them (pytest would collect them instead)."""
    def show(message, category, filename, lineno, file=None, line=None):
        (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))

    monkeypatch.setattr(warnings, "showwarning", show)


def test_worker_log_warnings_name_no_machine_folder(tmp_path, monkeypatch, capsys):
    import torch

    from ganzoo import worker

    _python_shows_warnings(monkeypatch)
    source = tmp_path / "checkout" / ".venv" / "lib" / "site-packages" / "torch" / "nn" / "x.py"
    source.parent.mkdir(parents=True)
    source.write_text("\n" * 5)

    def work(run_dir):
        warnings.simplefilter("always")
        warnings.warn_explicit("a warning of a library", UserWarning, str(source), 3)
        warnings.warn_explicit("and of torch", UserWarning, torch.__file__, 1)
        return 0

    monkeypatch.setattr(worker, "_work", work)
    run_dir = tmp_path / "out" / "runs" / "m-s0"
    run_dir.mkdir(parents=True)
    assert worker.main([str(run_dir)]) == 0
    err = capsys.readouterr().err
    assert "UserWarning: a warning of a library" in err and "UserWarning: and of torch" in err
    assert "../checkout/.venv/lib/site-packages/torch/nn/x.py:3:" in err
    assert_portable(err, tmp_path)


def test_worker_log_traceback_names_no_machine_folder(tmp_path, monkeypatch, capsys):
    from ganzoo import worker

    monkeypatch.delenv(worker.PARENT_ENV, raising=False)
    run_dir = tmp_path / "out" / "runs" / "m-s0"
    run_dir.mkdir(parents=True)  # but no worker-task.json: the worker fails reading it
    assert worker.main([str(run_dir)]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "FileNotFoundError" in err
    assert "runs/m-s0/worker-task.json" in err and "<ganzoo>/ganzoo/worker.py" in err
    assert_portable(err, tmp_path)


def test_worker_usage_is_unchanged(capsys):
    from ganzoo import worker

    assert worker.main([]) == 2
    assert "usage: python -m ganzoo worker RUN_DIR" in capsys.readouterr().err


def test_worker_stopped_by_the_bench_still_ends_by_sigint(tmp_path):
    """A worker interrupted (SIGINT from the bench) prints one portable traceback and still ends by
    SIGINT, as Python does, so the bench reports it as killed by SIGINT."""
    import signal
    import subprocess

    run_dir = tmp_path / "out" / "runs" / "m-s0"
    run_dir.mkdir(parents=True)
    code = ("import sys\nfrom ganzoo import worker\n"
            "def work(run_dir):\n    raise KeyboardInterrupt\n"
            "worker._work = work\nsys.exit(worker.main(sys.argv[1:]))\n")
    env = {k: v for k, v in os.environ.items() if k != "GANZOO_WORKER_PARENT"}
    done = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == -signal.SIGINT, done.stderr
    assert done.stderr.count("Traceback (most recent call last)") == 1 and "KeyboardInterrupt" in done.stderr
    assert "<ganzoo>/ganzoo/worker.py" in done.stderr
    assert_portable(done.stderr, tmp_path)
