"""In-training evaluation (``--eval-every``) and TensorBoard events (``--tensorboard``, optional extra)."""

from __future__ import annotations

import pytest
import torch

from ganzoo.harness import periodic_evaluation, train
from ganzoo.runs import RunSpec

TINY = {"ngf": 4, "ndf": 4, "batch_size": 8, "image_size": 16, "z_dim": 8}


def spec(steps: int = 5) -> RunSpec:
    return RunSpec(model="gan-int-cls", preset="cpu", overrides=dict(TINY), dataset="shapes",
                   dataset_options={"n_train": 64, "n_test": 32}, text_norm="zscore", seed=0, steps=steps,
                   log_every=2, checkpoint_every=1000)


def weights(run_dir) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    found = {}
    for path in sorted((run_dir / "checkpoint").glob("*.safetensors")):
        found.update({f"{path.name}:{k}": v for k, v in load_file(str(path)).items()})
    return found


def test_periodic_evaluation_is_recorded_and_does_not_change_training(tmp_path):
    import json

    evaluate = periodic_evaluation(["caption-accuracy"], num_samples=16, batch_size=16, seed=0, device="cpu")
    with_eval = train(spec(), tmp_path / "a", progress=False, eval_every=16, on_eval=evaluate)
    plain = train(spec(), tmp_path / "b", progress=False)
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert a.keys() == b.keys() and a
    assert all(torch.equal(a[k], b[k]) for k in a)  # evaluating draws no random numbers of training
    records = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval.images_seen" in r]
    assert [r["eval.images_seen"] for r in evals] == [0, 16, 32, 40]  # start, every 16 images, the end
    assert all("eval.caption-accuracy.exact" in r and r["eval.wall_time_s"] >= 0 for r in evals)
    assert [r["eval.wall_time_s"] for r in evals] == sorted(r["eval.wall_time_s"] for r in evals)
    assert with_eval.images_seen == plain.images_seen == 40


def test_tensorboard_events_load_with_tensorboards_reader(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    evaluate = periodic_evaluation(["caption-accuracy"], num_samples=16, batch_size=16, seed=0, device="cpu")
    train(spec(), tmp_path / "run", progress=False, eval_every=16, on_eval=evaluate, tensorboard=True)
    files = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = EventAccumulator(str(files[0].parent), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    losses = [t for t in tags["scalars"] if t.startswith("loss/")]
    assert losses and [e.step for e in events.Scalars(losses[0])] == [1, 2, 4]  # step 1 and every log_every
    exact = events.Scalars("eval/caption-accuracy.exact")
    assert [e.step for e in exact] == [0, 2, 4, 5]
    assert [e.value for e in events.Scalars("eval/images_seen")] == [0, 16, 32, 40]
    grids = events.Images("samples")
    assert len(grids) == 4 and grids[0].width > grids[0].height > 0


def test_tensorboard_flag_without_the_extra_is_one_line_error(monkeypatch):
    from ganzoo import tensorboard
    from ganzoo.errors import UsageError

    monkeypatch.setattr(tensorboard, "available", lambda: False)
    with pytest.raises(UsageError, match=r"pip install 'ganzoo\[tensorboard\]'"):
        tensorboard.check_available()
