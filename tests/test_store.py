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
# multiprocessing's spawned children under pytest's importlib mode). They move in lockstep
# through file barriers: both create the store at the same moment (racing to create the
# schema), then in every round each writes one run only once the other has finished its
# previous round, so their writes provably interleave. In round HOLD_ROUND the test itself
# holds the store's write lock while both writers try to write: they must wait for it, not
# fail. Each writer prints the (start, end) CLOCK_MONOTONIC times of its writes as JSON.
_WRITER = """
import json, sys, time
from pathlib import Path
from ganzoo.store import ResultStore
path, worker, rounds, sync, hold_round = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]),
                                          int(sys.argv[5]))
other = 1 - worker

def arrive_and_wait(name):
    (sync / f"{name}.w{worker}").touch()
    deadline = time.monotonic() + 30
    while not (sync / f"{name}.w{other}").exists():
        if time.monotonic() > deadline:
            sys.exit(f"writer {worker}: writer {other} never reached {name}: the writers did not run side by side")
        time.sleep(0.001)

arrive_and_wait("open")
store = ResultStore(path)
spans = []
for i in range(rounds):
    arrive_and_wait(f"round{i}")
    if i == hold_round:
        while not (sync / "lock-held").exists():
            time.sleep(0.001)
    start = time.monotonic_ns()
    run_id = store.add_run({"bench_id": "b", "model": f"m{worker}", "variant": "", "seed": i,
                            "status": "ok", "metrics": {"fid": float(i)}, "config": {"i": i}})
    store.add_curve_points(run_id, [(step, "loss_d", step * 0.1) for step in range(5)])
    spans.append((start, time.monotonic_ns()))
print(json.dumps(spans))
"""


def test_two_concurrent_writers_interleave_and_lose_nothing(tmp_path):
    import json

    path, sync = tmp_path / "results.sqlite", tmp_path / "sync"
    sync.mkdir()
    rounds, hold_round, hold_s = 30, 10, 1.0
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(w), str(rounds), str(sync), str(hold_round)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w in range(2)
    ]  # fmt: skip
    # Hold the write lock once both writers are about to write in round hold_round.
    deadline = time.monotonic() + 120
    while not all((sync / f"round{hold_round}.w{w}").exists() for w in range(2)):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            break
        time.sleep(0.001)
    released = None
    if all((sync / f"round{hold_round}.w{w}").exists() for w in range(2)):
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        (sync / "lock-held").touch()
        time.sleep(hold_s)
        released = time.monotonic_ns()
        conn.execute("COMMIT")
        conn.close()
    outputs = [w.communicate(timeout=180) for w in workers]
    errors = "\n".join(f"writer {i} (exit {w.returncode}): {err.strip()[-1500:]}"
                        for i, (w, (_, err)) in enumerate(zip(workers, outputs)))
    assert all(w.returncode == 0 for w in workers), errors
    assert "locked" not in errors
    assert released is not None, "the writers never reached the round in which the lock is held"
    store = ResultStore(path)
    runs = store.runs()
    assert len(runs) == 2 * rounds
    assert runs["run_id"].is_unique
    assert runs.groupby("model").size().to_dict() == {"m0": rounds, "m1": rounds}
    assert sorted(runs.loc[runs["model"] == "m1", "seed"]) == list(range(rounds))
    assert len(store.curves()) == 2 * rounds * 5
    assert len(store.finished_keys()) == 2 * rounds
    # Interleaved: in insertion order, round i's two runs (one per writer) precede round i+1's.
    order = list(zip(runs["seed"], runs["model"]))
    assert [seed for seed, _ in order] == [i for i in range(rounds) for _ in range(2)], order
    assert all({order[2 * i][1], order[2 * i + 1][1]} == {"m0", "m1"} for i in range(rounds)), order
    # Contended: in the held round both writers started before the lock was released and
    # finished after it, i.e. they waited for the lock instead of failing or skipping.
    spans = [json.loads(out)[hold_round] for out, _ in outputs]
    for start, end in spans:
        assert start < released < end, (start, released, end)
