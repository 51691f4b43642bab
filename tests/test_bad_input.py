"""Bad input: one-line errors, non-zero exits, nothing half-written."""

import errno
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli

SMALL = ["--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32", "--device", "cpu", "--no-progress"]
TINY = ["--set", "ngf=4", "--set", "ndf=4", "--set", "batch_size=8", "--set", "image_size=16"]


def run(args):
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def one_line_error(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize("args, needle", [
    (["train", "--model", "stylegan9", "--steps", "1"], "unknown model 'stylegan9'; valid models: "),
    (["train", "--model", "gan-int-cls", "--dataset", "mnist", "--steps", "1"], "valid datasets: "),
    (["train", "--model", "gan-int-cls", "--text-encoder", "bert", "--steps", "1"], "valid text encoders: "),
    (["train", "--model", "gan-int-cls", "--preset", "huge", "--steps", "1"], "cpu, paper"),
    (["bench", "--models", "stackgan,nope", "--steps", "1"], "unknown model 'nope'; valid models: "),
])
def test_unknown_names_exit_2_with_valid_list(args, needle, tmp_path):
    out = tmp_path / "o"
    code, output = run(args + ["--out", str(out)])
    assert code == 2, output
    assert needle in one_line_error(output)
    assert not out.exists()


def test_mistyped_config_key_names_nearest(tmp_path):
    code, out = run(["train", "--model", "gan-int-cls", "--set", "bach_size=8", "--steps", "1",
                     "--out", str(tmp_path / "r")] + SMALL)
    assert code == 2
    line = one_line_error(out)
    assert "'bach_size'" in line and "'batch_size'" in line
    assert not (tmp_path / "r").exists()


def test_mistyped_value_and_dataset_option(tmp_path):
    code, out = run(["train", "--model", "gan-int-cls", "--set", "batch_size=eight", "--steps", "1",
                     "--out", str(tmp_path / "r")] + SMALL)
    assert code == 2 and "batch_size" in one_line_error(out)
    code, out = run(["train", "--model", "gan-int-cls", "--dataset-opt", "n_trian=5", "--steps", "1",
                     "--out", str(tmp_path / "r2")])
    assert code == 2 and "'n_train'" in one_line_error(out)


@pytest.mark.parametrize("extra, needle", [
    (["--set", "batch_size=0"], "batch_size"),
    (["--set", "image_size=20"], "image_size"),
    (["--steps", "-3"], "--steps"),
    (["--budget", "soon"], "budget"),
])
def test_out_of_range_values(extra, needle, tmp_path):
    args = ["train", "--model", "gan-int-cls", "--out", str(tmp_path / "r")] + SMALL + extra
    if "--steps" not in extra and "--budget" not in extra:
        args += ["--steps", "1"]
    code, out = run(args)
    assert code == 2, out
    assert needle in one_line_error(out)
    assert not (tmp_path / "r" / "checkpoint").exists()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r"
    code, output = run(["train", "--model", "gan-int-cls", "--steps", "2", "--out", str(out)] + SMALL + TINY)
    assert code == 0, output
    return out


@pytest.mark.parametrize("caption, needle", [("", "empty caption"), ("   ", "empty caption"),
                                              ("a" * 5000, "too long")])
def test_bad_captions(trained_run, tmp_path, caption, needle):
    code, out = run(["sample", "--checkpoint", str(trained_run), caption, "-o", str(tmp_path / "g.png")])
    assert code == 2 and needle in one_line_error(out)
    assert not (tmp_path / "g.png").exists()


def test_unknown_metric_exits_2_before_any_work(trained_run):
    """The metric names are checked on a real run (a bogus run folder would stop the command
    earlier, at loading), before any sample is generated or anything written."""
    before = sorted(p.name for p in trained_run.iterdir())
    code, out = run(["eval", "--checkpoint", str(trained_run), "--metrics", "sample-throughput,bogus-metric",
                     "--samples", "4", "--batch-size", "2", "--device", "cpu"])
    assert code == 2, out
    line = one_line_error(out)
    assert "unknown metric 'bogus-metric'; valid metrics: " in line
    assert "fid" in line.split("valid metrics: ")[1].split(", ")
    assert sorted(p.name for p in trained_run.iterdir()) == before  # no eval.json


def test_eval_of_a_folder_that_is_not_a_run_exits_1(tmp_path):
    code, out = run(["eval", "--checkpoint", str(tmp_path), "--metrics", "fid"])
    assert code == 1, out
    assert "not a ganzoo run directory" in one_line_error(out)


def test_missing_and_truncated_checkpoint(trained_run, tmp_path):
    code, out = run(["sample", "--checkpoint", str(tmp_path / "nowhere"), "a red circle", "-o", str(tmp_path / "g.png")])
    assert code == 1 and "not a ganzoo run directory" in one_line_error(out)
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained_run, broken)
    state = json.loads((broken / "checkpoint" / "state.json").read_text())
    weights = broken / "checkpoint" / state["weights"]
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    code, out = run(["sample", "--checkpoint", str(broken), "a red circle", "-o", str(tmp_path / "g.png")])
    assert code == 1 and "damaged or truncated" in one_line_error(out)
    (broken / "checkpoint" / "state.json").write_text('{"format": "something-else"}')
    code, out = run(["sample", "--checkpoint", str(broken), "a red circle", "-o", str(tmp_path / "g.png")])
    assert code == 1 and "not a ganzoo checkpoint" in one_line_error(out)
    assert not (tmp_path / "g.png").exists()


def test_full_disk_while_writing_checkpoint(tmp_path, monkeypatch):
    import ganzoo.checkpoint as ck

    def no_space(tensors, filename, *a, **k):
        Path(filename).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck, "save_file", no_space)
    out_dir = tmp_path / "r"
    code, out = run(["train", "--model", "gan-int-cls", "--steps", "2", "--out", str(out_dir)] + SMALL + TINY)
    assert code == 1
    line = one_line_error(out)
    assert "No space left" in line and "free some disk space" in line
    leftovers = [p.name for p in (out_dir / "checkpoint").glob("*")] if (out_dir / "checkpoint").exists() else []
    assert not leftovers, leftovers  # no half-written checkpoint file remains
