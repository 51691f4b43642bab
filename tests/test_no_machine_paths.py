"""What ganzoo writes holds no absolute path of the machine it ran on (checkout, temporary or home
folders): every text file of a bench's output folder (run folders included) and the store's text
values. Paths are written relative to the file's folder or the output folder and resolved back
when read (the worker reads worker-task.json, --resume reads worker-result.json)."""

import json
import os
import re
import sqlite3
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli
from ganzoo.store import ResultStore, relative_path, resolve_path

TEXT_SUFFIXES = {".json", ".jsonl", ".log", ".csv", ".md", ".html", ".toml", ".txt"}
TINY_GAN = "gan-int-cls:ngf=4,ndf=4,batch_size=8,image_size=16,z_dim=8"
SMALL = ["--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32", "--device", "cpu", "--no-progress",
         "--text-norm", "zscore", "--eval-samples", "12", "--metrics", "caption-accuracy"]


def machine_folders(tmp_path: Path) -> list[str]:
    """The folders of this machine no written file may name: the test's, the temporary, the checkout, home."""
    folders = {str(tmp_path), os.path.realpath(tmp_path), tempfile.gettempdir(), os.path.realpath(tempfile.gettempdir()),
               str(Path(ganzoo.__file__).resolve().parent.parent), str(Path.home()), os.getcwd()}
    return sorted(f.rstrip("/") for f in folders if f.rstrip("/"))


def _texts(out: Path):
    """(name, text) of every text file under ``out`` and of every text value of its SQLite stores."""
    for path in sorted(out.rglob("*")):
        name = str(path.relative_to(out))
        if path.suffix in TEXT_SUFFIXES and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            yield name, re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "data:", text)  # embedded images
        elif path.suffix == ".sqlite" and path.is_file():
            conn = sqlite3.connect(path)
            try:
                for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                    for record in conn.execute(f"SELECT * FROM {table}"):
                        yield from ((f"{name}:{table}", v) for v in record if isinstance(v, str))
            finally:
                conn.close()


def machine_paths_in(out: Path, tmp_path: Path) -> list[str]:
    """Each place a text under ``out`` names one of :func:`machine_folders`, with some context."""
    pattern = re.compile("|".join(rf"(?<![\w.~-]){re.escape(f)}(?![\w.-])" for f in machine_folders(tmp_path)))
    found = []
    for name, text in _texts(out):
        for match in pattern.finditer(text):
            found.append(f"{name}: ...{text[max(match.start() - 60, 0):match.end() + 60]}...")
    return found


def assert_no_machine_paths_anywhere(out: Path, tmp_path: Path) -> None:
    found = machine_paths_in(out, tmp_path)
    assert not found, "absolute paths of this machine in written files:\n" + "\n".join(found[:12])


def test_bench_output_folder_holds_no_machine_path(tmp_path, monkeypatch):
    out = tmp_path / "bench"
    args = ["bench", "--models", TINY_GAN, "--steps", "4", "--out", str(out), "--allow-failures"] + SMALL
    monkeypatch.setattr(sys, "argv", ["ganzoo", *args])  # the command a run records, as the shell gave it
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run_dir = next((out / "runs").iterdir())
    names = {p.name for p in run_dir.iterdir()}
    assert {"worker-task.json", "worker-result.json", "result.json", "run.json", "worker.log", "log.jsonl"} <= names
    row = ResultStore(out).runs().iloc[0]
    assert row["status"] in ("ok", "collapsed"), row["reason"]  # the worker found its output folder
    assert_no_machine_paths_anywhere(out, tmp_path)

    task = json.loads((run_dir / "worker-task.json").read_text())
    assert task["out"] == "../.." and task["run_dir"] == "."
    assert json.loads((run_dir / "result.json").read_text())["run_dir"] == "."
    worker_row = json.loads((run_dir / "worker-result.json").read_text())
    assert worker_row["run_dir"] == f"runs/{run_dir.name}"
    assert worker_row["samples"]["grid"] == f"runs/{run_dir.name}/samples.png"
    assert "--out <out>" in json.loads((run_dir / "run.json").read_text())["command"]

    # --resume of a bench killed after its worker finished: the row comes back from worker-result.json
    for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm"):
        (out / name).unlink(missing_ok=True)
    result = CliRunner().invoke(cli, args + ["--resume"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    again = ResultStore(out).runs().iloc[0]
    for column in ("run_dir", "status", "steps", "metric.caption-accuracy.exact"):
        assert again[column] == row[column], column
    assert again["samples"] == row["samples"]
    assert_no_machine_paths_anywhere(out, tmp_path)


def test_recorded_paths_resolve_back(tmp_path):
    from ganzoo.text import default_cache_dir
    from ganzoo.worker import task_paths

    run_dir = (tmp_path / "out" / "runs" / "m-s0").resolve()
    run_dir.mkdir(parents=True)
    cases = {run_dir.parent.parent: "../..", run_dir: ".", default_cache_dir() / "w.pth": "<cache>/w.pth",
             Path(ganzoo.__file__).resolve().parent / "x.toml": "<ganzoo>/ganzoo/x.toml",
             Path("/opt/weights/w.pth"): os.path.relpath("/opt/weights/w.pth", run_dir)}
    for path, recorded in cases.items():
        assert relative_path(path, run_dir) == recorded, path
        assert resolve_path(recorded, run_dir) == path, recorded
    # a worker-task.json of an older ganzoo (absolute paths) still reads
    old = {"out": str(run_dir.parent.parent), "inception_weights": "/opt/weights/w.pth"}
    assert task_paths(old, run_dir) == (run_dir.parent.parent, Path("/opt/weights/w.pth"))
    new = {"out": "../..", "inception_weights": None}
    assert task_paths(new, run_dir) == (run_dir.parent.parent, None)


def test_bench_on_a_data_dir_records_it_relative(tmp_path, monkeypatch):
    """``--data-dir``: run.json and worker-task.json record it relative to themselves, the worker
    finds it, and ``--resume`` of a bench killed after its worker finished still reuses that run."""
    from ganzoo_realdata import fixture

    birds = tmp_path / "birds"
    fixture.make_birds(birds, n_train=6, n_test=3)
    out = tmp_path / "bench"
    args = ["bench", "--models", "gan-int-cls:ngf=4,ndf=4,batch_size=4,image_size=16,z_dim=8", "--dataset", "cub",
            "--data-dir", str(birds), "--steps", "2", "--eval-samples", "6", "--device", "cpu", "--no-progress",
            "--metrics", "caption-accuracy", "--out", str(out), "--allow-failures"]
    monkeypatch.setattr(sys, "argv", ["ganzoo", *args])
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run_dir = next((out / "runs").iterdir())
    row = ResultStore(out).runs().iloc[0]
    assert row["status"] in ("ok", "collapsed"), row["reason"]  # the worker found the data folder
    for name in ("run.json", "worker-task.json"):
        assert json.loads((run_dir / name).read_text())["spec"]["dataset_options"]["data_dir"] == "../../../birds"
    assert_no_machine_paths_anywhere(out, tmp_path)

    for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm"):
        (out / name).unlink(missing_ok=True)
    result = CliRunner().invoke(cli, args + ["--resume"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ResultStore(out).runs().iloc[0]["status"] == row["status"]
    assert (run_dir / "worker.log").read_text().count("worker pid") == 1  # reused, not trained again
    assert_no_machine_paths_anywhere(out, tmp_path)
