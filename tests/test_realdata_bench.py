"""`ganzoo bench --dataset cub --preset paper` starts training on a StackGAN-layout tree (smoke run)."""

import json

from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.store import ResultStore
from ganzoo_realdata import fixture


def test_bench_paper_preset_on_cub_tree(tmp_path):
    root = tmp_path / "birds"
    fixture.make_birds(root, n_train=6, n_test=3)
    out = tmp_path / "bench"
    result = CliRunner().invoke(cli, [
        "bench", "--models", "stackgan", "--dataset", "cub", "--data-dir", str(root), "--preset", "paper",
        "--steps", "2", "--eval-samples", "6", "--device", "cpu", "--no-progress", "--out", str(out),
        # the paper widths with a batch the 6-image fixture can fill
        "--models", "stackgan:stage2_batch_size=4"])
    assert result.exit_code == 0, result.output
    rows = ResultStore(out / "results.sqlite").runs()
    assert len(rows) == 1 and rows.iloc[0]["status"] == "ok", rows.iloc[0].get("reason")
    run_dir = out / "runs" / "stackgan-stage2_batch_size-4-s0"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["config"]["gf_dim"] == 128 and record["config"]["df_dim"] == 64  # the paper's birds widths
    assert record["spec"]["text_encoder"] == "precomputed" and record["spec"]["dataset"] == "cub"
    assert json.loads((run_dir / "result.json").read_text())["steps"] == 2
    # shapes-only metrics are reported as unavailable with a reason, never as numbers
    unavailable = json.loads(rows.iloc[0]["unavailable"]) if isinstance(rows.iloc[0]["unavailable"], str) \
        else rows.iloc[0]["unavailable"]
    assert any("cub" in why for why in unavailable.values())
