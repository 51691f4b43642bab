"""The shipped shapes evaluator and the metrics built on it: caption accuracy, R-precision,
domain IS/FID/KID, checked against real images (ceiling) and noise (floor)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from ganzoo.metrics import evaluate
from ganzoo_metrics import evaluator, evaluator_train
from ganzoo_metrics.caption_metrics import caption_attribute_table, draw_distractors
from ganzoo_metrics.reference_models import NoiseModel, RealImageModel

N = 200  # generated samples per check (the evaluator is cheap)


@pytest.fixture(scope="module")
def test_split():
    from ganzoo.registry import get_registry

    return get_registry().dataset("shapes", seed=0).split("test")


def test_shipped_file_is_small_and_documented():
    assert evaluator.SHIPPED_WEIGHTS.stat().st_size < 1_000_000
    report = json.loads(evaluator.SHIPPED_REPORT.read_text())
    assert report["command"].startswith("ganzoo evaluator train")
    assert {"seed", "steps", "batch_size", "train_seconds", "test_accuracy"} <= set(report)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_shipped_evaluator_reads_real_test_images(test_split, size):
    acc = evaluator_train.accuracy(evaluator.shipped(), test_split, size)
    assert all(v >= 0.99 for v in acc.values()), acc
    recorded = json.loads(evaluator.SHIPPED_REPORT.read_text())["test_accuracy"][f"{size}px"]
    assert acc == pytest.approx(recorded, abs=1e-6)  # the JSON describes this very file


def test_caption_table_matches_image_attributes(test_split):
    table = caption_attribute_table(test_split)
    for a, values in test_split.attributes.items():
        per_image = table[a][test_split.caption_ids]  # (N, K)
        assert (per_image == values.unsqueeze(1)).all()  # shapes captions state every attribute


def test_distractors_differ_from_their_caption(test_split):
    table = caption_attribute_table(test_split)
    caps = test_split.caption_ids[:50, 0]
    d = draw_distractors(table, caps, 99, seed=0)
    attrs = torch.stack(list(table.values()), 1)
    assert d.shape == (50, 99)
    assert (attrs[d] != attrs[caps].unsqueeze(1)).any(2).all()


def test_real_images_score_near_one(test_split):
    ctx = RealImageModel(test_split, 64).context(test_split, num_samples=N, batch_size=50)
    out = evaluate(ctx, ["caption-accuracy", "r-precision"])
    v = out["values"]
    for a in test_split.attributes:
        assert v[f"caption-accuracy.{a}"] >= 0.99
        assert v[f"caption-accuracy.{a}.chance"] == 1 / len(test_split.attribute_values[a])
    assert v["caption-accuracy.exact"] >= 0.99 and v["caption-accuracy.exact.normalised"] >= 0.99
    assert v["caption-accuracy.exact.unseen"] >= 0.99 and v["caption-accuracy.exact.seen"] >= 0.99
    assert v["r-precision"] >= 0.95 and v["r-precision.chance"] == 0.01
    assert out["info"]["r-precision"]["samples"]["num_samples"] == N


def test_noise_scores_near_chance(test_split):
    ctx = NoiseModel(64).context(test_split, num_samples=N, batch_size=50)
    v = evaluate(ctx, ["caption-accuracy", "r-precision"])["values"]
    for a in test_split.attributes:
        assert abs(v[f"caption-accuracy.{a}.normalised"]) < 0.2, (a, v[f"caption-accuracy.{a}"])
    per_attribute = [v[f"caption-accuracy.{a}.normalised"] for a in test_split.attributes]
    assert v["caption-accuracy.mean_normalised"] == pytest.approx(sum(per_attribute) / len(per_attribute))
    assert v["caption-accuracy.min_normalised"] == pytest.approx(min(per_attribute))
    assert v["caption-accuracy.exact"] < 0.05
    assert v["r-precision"] < 0.08


def test_domain_metrics_separate_real_from_noise(test_split, tmp_path):
    names = ["domain-is", "domain-fid", "domain-kid"]
    real = evaluate(RealImageModel(test_split, 32).context(test_split, num_samples=N, batch_size=50,
                                                           cache_dir=tmp_path, seed=1), names)
    noise = evaluate(NoiseModel(32).context(test_split, num_samples=N, batch_size=50, cache_dir=tmp_path), names)
    r, n = real["values"], noise["values"]
    assert r["domain-fid"] < 0.1 * n["domain-fid"]
    assert r["domain-kid"] < 0.1 * n["domain-kid"]
    print(r, n)
    assert r["domain-is"] > 8 and r["domain-is"] > 2 * n["domain-is"]  # at most 40 classes, and at most the 20 samples per IS split
    assert sorted(real["info"]["domain-fid"]["computed_together"]) == sorted(names)
    assert evaluator.register_feature_extractor() == evaluator.EXTRACTOR_NAME  # second registration is a no-op


def test_other_datasets_have_no_evaluator(test_split):
    ctx = NoiseModel(32).context(test_split, dataset_name="birds", num_samples=4, batch_size=4)
    out = evaluate(ctx, ["caption-accuracy"])
    assert "only shapes has one" in out["unavailable"]["caption-accuracy"]


def test_train_command_writes_weights_and_report(tmp_path):
    from ganzoo.cli import cli

    out = tmp_path / "ev.safetensors"
    result = CliRunner().invoke(cli, ["evaluator", "train", "--out", str(out), "--steps", "2", "--batch-size", "4",
                                      "--test-images", "20"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["steps"] == 2 and report["seed"] == 0 and report["test_split"]["images"] == 20
    assert set(report["test_accuracy"]) == {"16px", "32px", "64px", "128px"}
    net = evaluator.load(out)
    from ganzoo_shapes import ATTRIBUTE_VALUES

    assert net.attribute_values == ATTRIBUTE_VALUES

    bad = CliRunner().invoke(cli, ["evaluator", "train", "--out", str(tmp_path / "x.pt"), "--steps", "1"])
    assert bad.exit_code == 2 and "safetensors" in bad.output
