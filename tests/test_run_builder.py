"""One place builds a run: every command's RunSpec comes from build_run_spec and one defaults table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.errors import UsageError
from ganzoo.run_builder import build_run_spec
from ganzoo.run_settings import bench_presets, run_default, run_defaults
from ganzoo.runs import RunSpec

CORE = Path(__file__).resolve().parent.parent / "ganzoo"


def test_runspec_defaults_are_the_table():
    spec, table = RunSpec(model="m"), run_defaults()
    for key in ("preset", "dataset", "text_norm", "text_norm_dim", "checkpoint_every", "log_every", "num_workers"):
        assert getattr(spec, key) == table[key], key
    built = build_run_spec("m", preset="tiny")  # a model preset no bench preset covers: the defaults alone
    assert (built.text_norm, built.checkpoint_every) == (table["text_norm"], table["checkpoint_every"])


def test_bench_preset_overrides_the_defaults_and_the_user_both():
    paper = bench_presets()["paper"]
    spec = build_run_spec("m", preset="paper")
    assert spec.text_norm == paper["text_norm"] != run_default("text_norm")
    assert spec.checkpoint_every == paper["checkpoint_every"] != run_default("checkpoint_every")  # read, not ignored
    assert build_run_spec("m", preset="paper.coco").text_norm == paper["text_norm"]  # the preset's family
    given = build_run_spec("m", preset="paper", text_norm="zscore", checkpoint_every=7, num_workers=0)
    assert (given.text_norm, given.checkpoint_every, given.num_workers) == ("zscore", 7, 0)


def test_preset_budget():
    assert build_run_spec("m", preset="cpu-stage1", preset_budget=True).images_budget == 96_000
    assert build_run_spec("m", preset="cpu", steps=3, preset_budget=True).images_budget is None
    with pytest.raises(UsageError, match="sets no budget"):
        build_run_spec("m", preset="paper", preset_budget=True)
    with pytest.raises(UsageError, match="--steps must be a positive"):
        build_run_spec("m", steps=0)


def _calls(path: Path, name: str) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == name]


def test_runs_are_built_in_one_place():
    """No module of the core constructs a RunSpec but the run builder; the commands call it."""
    direct = [f"{path.relative_to(CORE.parent)}:{line}" for path in sorted(CORE.rglob("*.py"))
              if path.name != "run_builder.py" for line in _calls(path, "RunSpec")]
    assert not direct, "build RunSpecs with ganzoo.run_builder.build_run_spec:\n" + "\n".join(direct)
    for command in ("train", "bench", "ablate"):
        assert _calls(CORE / "cli" / f"{command}.py", "build_run_spec"), command


def test_ablate_takes_the_bench_options(tmp_path):
    """--run-memory-limit (like every bench option) reaches the ablation's bench plan and is checked there."""
    args = ["ablate", "gan-int-cls", "cls=true,false", "--steps", "1", "--seeds", "0",
            "--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32", "--out", str(tmp_path / "a")]
    result = CliRunner().invoke(cli, args + ["--run-memory-limit", "-5"])
    assert result.exit_code == 2 and "--run-memory-limit must be a positive number of MB" in result.output
    assert not (tmp_path / "a").exists()
