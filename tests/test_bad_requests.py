"""Bad requests stop before any work: one line, exit 2, no output folder; damaged run folders say what is damaged."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.bench import BenchPlan, bench_preset, validate_plan
from ganzoo.cli import cli
from ganzoo.errors import UsageError
from ganzoo.runs import RunSpec

SMALL = ["--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32", "--device", "cpu", "--no-progress",
         "--steps", "2"]


def run(args):
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def one_line_error(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output and lines[0].startswith("error: "), output
    return lines[0]


@pytest.fixture
def empty_dir(tmp_path):
    path = tmp_path / "empty-birds"
    path.mkdir()
    return path


@pytest.mark.parametrize("args, needles", [
    (["--models", "stackgan:cq=true"], ["'cq'", "did you mean 'ca'"]),
    (["--models", "stackgan:kl_weight=abc"], ["'kl_weight'", "float", "'abc'"]),
    (["--models", "stackgan,ebgan:lambda_pt=-1"], ["lambda_pt", ">= 0"]),  # a later variant's value
    (["--models", "stackgan:stage2_batch_size=500"], ["batch of 500", "64 training images"]),
    (["--dataset", "imagenet"], ["'imagenet'", "shapes", "cub"]),
    (["--dataset", "cub"], ["needs --data-dir"]),
    (["--dataset", "cub", "--data-dir", "MISSING"], ["does not exist"]),
    (["--dataset", "cub", "--data-dir", "EMPTY"], ["is empty", "ganzoo data check"]),
    (["--dataset-opt", "n_trian=5"], ["'n_train'"]),
    (["--jobs", "0"], ["--jobs"]),
    (["--run-timeout", "0"], ["--run-timeout"]),
])
def test_bad_bench_request_stops_before_any_work(args, needles, tmp_path, empty_dir):
    out = tmp_path / "out"
    args = [str(tmp_path / "nowhere") if a == "MISSING" else str(empty_dir) if a == "EMPTY" else a for a in args]
    small = SMALL if "--dataset" not in args else [a for a in SMALL if not a.startswith("n_") and a != "--dataset-opt"]
    code, output = run(["bench", "--out", str(out)] + args + small)
    assert code == 2, output
    line = one_line_error(output)
    for needle in needles:
        assert needle in line, line
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))


def test_validate_plan_is_callable_without_the_cli(tmp_path):
    settings = bench_preset("cpu")
    good = RunSpec(model="stackgan", dataset_options={"n_train": 64, "n_test": 32}, steps=2)
    bad = RunSpec(model="stackgan", overrides={"cq": "true"}, dataset_options={"n_train": 64, "n_test": 32}, steps=2)
    plan = BenchPlan(bench_id="b", out=tmp_path / "out", specs=[good], preset=settings, device="cpu")
    validate_plan(plan)  # a good request passes and writes nothing
    assert not (tmp_path / "out").exists()
    plan.specs = [good, bad]  # the second run's key is checked too, before the first runs
    with pytest.raises(UsageError, match="did you mean 'ca'"):
        validate_plan(plan)
    plan.specs = [RunSpec(model="stackgan", dataset="imagenet", steps=2)]
    with pytest.raises(UsageError, match="valid datasets"):
        validate_plan(plan)
    assert not (tmp_path / "out").exists()


def _fake_run(tmp_path: Path) -> Path:
    """A run folder whose run.json is what `ganzoo train` writes (load_run checks it before anything else)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    spec = RunSpec(model="gan-int-cls", dataset_options={"n_train": 64, "n_test": 32}, steps=2)
    (run_dir / "run.json").write_text(json.dumps({"spec": spec.to_json(), "config": {"ngf": 4}, "environment": {},
                                                  "command": "ganzoo train"}))
    return run_dir


def _damage(record: dict, how: str):
    if how == "truncated":
        return json.dumps(record)[:40]
    if how == "binary":
        return b"\xff\xfe\x00garbage"
    if how == "list":
        return json.dumps([record])
    if how == "no-spec":
        record.pop("spec")
    elif how == "no-model":
        record["spec"].pop("model")
    elif how == "bad-options":
        record["spec"]["dataset_options"] = "n_train=64"
    elif how == "no-config":
        record.pop("config")
    return json.dumps(record)


@pytest.mark.parametrize("how, needle", [
    ("truncated", "invalid JSON"), ("binary", "invalid JSON"), ("list", "expected a JSON object"),
    ("no-spec", "no 'spec'"), ("no-model", "'spec.model'"), ("bad-options", "'spec.dataset_options'"),
    ("no-config", "no 'config'"),
])
@pytest.mark.parametrize("command", ["sample", "eval"])
def test_damaged_run_json_is_one_line(command, how, needle, tmp_path):
    run_dir = _fake_run(tmp_path)
    damaged = _damage(json.loads((run_dir / "run.json").read_text()), how)
    if isinstance(damaged, bytes):
        (run_dir / "run.json").write_bytes(damaged)
    else:
        (run_dir / "run.json").write_text(damaged)
    args = (["sample", "--checkpoint", str(run_dir), "a red circle", "-o", str(tmp_path / "g.png")]
            if command == "sample" else ["eval", "--checkpoint", str(run_dir), "--device", "cpu"])
    code, output = run(args)
    assert code == 1, output
    line = one_line_error(output)
    assert "run.json is damaged" in line and needle in line, line
    assert not (tmp_path / "g.png").exists() and not (run_dir / "eval.json").exists()

