"""The SQLite results store: round trip, concurrency, resume keys, export."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ganzoo.errors import GanzooError
from ganzoo.store import SCHEMA_VERSION, ResultStore


def _row(**overrides):
    row = {
        "bench_id": "b1",
        "model": "stackgan",
        "variant": "ca=false",
        "dataset": "shapes",
        "preset": "cpu",
        "seed": 3,
        "config": {"gf_dim": 16, "lr": 2e-4},
        "metrics": {"fid": 81.5, "caption_accuracy": {"shape": 0.75, "color": 0.5}},
        "unavailable": {"inception_score": "no fine-tuned classifier"},
        "metric_info": {"fid": {"features": "inception-v3-compat", "samples": 512}},
        "throughput": {"train_images_per_s": 12.5, "sample_images_per_s": 300.0},
        "peak_memory_mb": 512.0,
        "wall_time_s": 61.2,
        "steps": 600,
        "images_seen": 38400,
        "budget": "steps=600",
        "device": "cpu",
        "versions": {"torch": "2.14.1"},
        "git_rev": "abc123",
        "status": "ok",
        "reason": None,
        "started_at": "2024-01-01T00:00:00",
        "finished_at": "2024-01-01T00:01:01",
        "command": "ganzoo bench --models stackgan",
        "run_dir": "/tmp/run",
        "samples": {"grid": "samples.png", "captions": ["a red circle"]},
    }
    row.update(overrides)
    return row


def test_round_trip_decodes_json_and_flattens_metrics(tmp_path):
    store = ResultStore(tmp_path / "results.sqlite")
    run_id = store.add_run(_row(seed=np.int64(3), note="kept", metrics={"fid": np.float32(81.5), "acc": {"shape": 0.75}}))
    assert len(run_id) == 32
    runs = ResultStore(tmp_path).runs()  # the bench directory resolves to its results.sqlite
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["run_id"] == run_id and row["seed"] == 3
    assert row["config"] == {"gf_dim": 16, "lr": 2e-4}
    assert row["metric.fid"] == pytest.approx(81.5)
    assert row["metric.acc.shape"] == 0.75
    assert row["throughput.train_images_per_s"] == 12.5
    assert row["extra"] == {"note": "kept"}  # unknown keys are kept, not rejected
    assert row["unavailable"] == {"inception_score": "no fine-tuned classifier"}


def test_given_run_id_is_kept_and_curves_round_trip(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    assert store.add_run(_row(run_id="fixed")) == "fixed"
    store.add_curve_points("fixed", [(0, "loss_d", 1.5), (10, "loss_d", float("nan")), (20, "fid", 90.0)])
    curves = store.curves()
    assert list(curves.columns) == ["run_id", "step", "name", "value"]
    assert curves["step"].tolist() == [0, 10, 20]
    assert curves["value"].iloc[0] == 1.5 and math.isnan(curves["value"].iloc[1])


def test_schema_version_and_wal(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(GanzooError, match="schema version"):
        ResultStore(store.path)


def test_finished_keys_for_resume(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add_run(_row(seed=0, status="ok"))
    store.add_run(_row(seed=1, status="diverged", reason="loss nan at step 120"))
    store.add_run(_row(seed=2, status="failed", reason="OOM"))
    store.add_run(_row(seed=3, status="running"))
    store.add_run(_row(seed=0, variant="", status="ok"))
    assert store.finished_keys() == {
        ("b1", "stackgan", "ca=false", 0),
        ("b1", "stackgan", "ca=false", 1),
        ("b1", "stackgan", "ca=false", 2),
        ("b1", "stackgan", "", 0),
    }


def test_export_writes_csv_with_json_cells(tmp_path):
    import pandas as pd

    store = ResultStore(tmp_path / "r.sqlite")
    run_id = store.add_run(_row())
    store.add_curve_points(run_id, [(1, "loss_g", 0.7)])
    paths = store.export(tmp_path / "out")
    names = {p.name for p in paths}
    assert {"runs.csv", "curves.csv"} <= names
    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert runs.loc[0, "metric.fid"] == 81.5
    assert '"gf_dim": 16' in runs.loc[0, "config"]
    assert len(pd.read_csv(tmp_path / "out" / "curves.csv")) == 1


def test_missing_or_foreign_files_are_user_errors(tmp_path):
    with pytest.raises(GanzooError, match="no results store"):
        ResultStore(tmp_path / "absent.sqlite", create=False)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 20)
    with pytest.raises(GanzooError, match="not a ganzoo results store"):
        ResultStore(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(GanzooError, match="not a ganzoo results store"):
        ResultStore(other)


# The writers run as separate interpreters (this test module is not importable by
# multiprocessing's spawned children under pytest's importlib mode). They wait on a "go"
# file so that both write at the same time.
_WRITER = """
import sys, time
from pathlib import Path
from ganzoo.store import ResultStore
path, worker, count, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
store = ResultStore(path)
Path(f"{go}.ready{worker}").touch()
while not go.exists():
    time.sleep(0.005)
for i in range(count):
    run_id = store.add_run({"bench_id": "b", "model": f"m{worker}", "variant": "", "seed": i,
                            "status": "ok", "metrics": {"fid": float(i)}, "config": {"i": i}})
    store.add_curve_points(run_id, [(step, "loss_d", step * 0.1) for step in range(5)])
"""


def test_two_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "results.sqlite"
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(w), "50", str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w in range(2)
    ]  # fmt: skip
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}.ready{w}").exists() for w in range(2)) and time.monotonic() < deadline:
        time.sleep(0.01)  # both have opened the store (racing to create the schema)
    go.touch()
    outputs = [w.communicate(timeout=180) for w in workers]
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err
        assert "locked" not in err
    store = ResultStore(path)
    runs = store.runs()
    assert len(runs) == 100
    assert runs["run_id"].is_unique
    assert runs.groupby("model").size().to_dict() == {"m0": 50, "m1": 50}
    assert sorted(runs.loc[runs["model"] == "m1", "seed"]) == list(range(50))
    assert len(store.curves()) == 500
    assert len(store.finished_keys()) == 100
    switches = (runs["model"] != runs["model"].shift()).sum() - 1
    assert switches >= 1, "the two writers never overlapped, so nothing concurrent was tested"
