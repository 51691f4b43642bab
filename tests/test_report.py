"""Benchmark and ablation reports built from a store of synthetic rows."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.report import build_ablation_report, build_report
from ganzoo.report.markdown import markdown_table
from ganzoo.report.stats import format_mean_std, t_cdf, t_quantile, welch_interval
from ganzoo.report.tables import (
    ablation_stats,
    caption_accuracy_table,
    caption_normalised_table,
    leaderboard_stats,
    leaderboard_table,
)
from ganzoo.store import ResultStore

MODELS = [("stackgan", ""), ("stackgan", "ca=false")]
SEEDS = [0, 1, 2]


def _grid_png(path):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    figure.add_subplot(1, 1, 1).imshow(np.random.default_rng(0).random((8, 8, 3)))
    figure.savefig(path, format="png")
    return path


def _synthetic_rows(tmp_path):
    """Rows shaped like `ganzoo bench` writes them: flat metric names with companions."""
    rng = np.random.default_rng(1234)
    rows = []
    for model, variant in MODELS:
        for seed in SEEDS:
            grid = _grid_png(tmp_path / f"grid_{variant or 'base'}_{seed}.png")
            shape, colour, exact = (float(rng.uniform(0.2, 1)) for _ in range(3))
            train, sample, peak = float(rng.uniform(10, 20)), float(rng.uniform(200, 300)), float(rng.uniform(400, 500))
            rows.append(
                {
                    "bench_id": "bench-1", "model": model, "variant": variant, "dataset": "shapes",
                    "preset": "cpu", "seed": seed, "status": "ok", "budget": "steps=600",
                    "steps": 600, "images_seen": 600 * 16, "wall_time_s": float(rng.uniform(50, 70)),
                    "peak_memory_mb": peak - 50,
                    "metrics": {
                        "fid": float(rng.normal(80, 5)), "kid": float(rng.normal(0.05, 0.01)), "kid.std": 1e-7,
                        "clip_score": float(rng.normal(0.3, 0.02)),
                        "r-precision": float(rng.uniform(0, 1)), "r-precision.chance": 0.01,
                        "caption-accuracy.shape": shape, "caption-accuracy.shape.chance": 0.2,
                        "caption-accuracy.shape.normalised": (shape - 0.2) / 0.8,
                        "caption-accuracy.colour": colour, "caption-accuracy.colour.chance": 0.125,
                        "caption-accuracy.exact": exact * 0.5, "caption-accuracy.exact.chance": 0.025,
                        "caption-accuracy.exact.unseen": exact * 0.4,
                        "train-throughput.stage1": train, "sample-throughput": sample,
                        "peak-memory": peak, "peak-memory.train": peak - 50,
                    },
                    "throughput": {"train_images_per_s.stage1": train, "sample_images_per_s": sample,
                                   "batch_size": 16},
                    "unavailable": {"is": "no classifier fine-tuned on shapes"},
                    "metric_info": {"fid": {"feature_extractor": "inception-v3-compat",
                                            "weights": "pt_inception-2015-12-05",
                                            "samples": 256, "reference": "shapes test split"},
                                    "clip_score": {"presentation": {"clip_score": {
                                        "title": "CLIP score", "higher_is_better": True, "headline": True,
                                        "meaning": "cosine similarity of CLIP image and caption features"}}}},
                    "device": "cpu", "versions": {"torch": "2.14.1", "ganzoo": "0.1.0"}, "git_rev": "deadbeef",
                    "command": "ganzoo bench --models stackgan --seeds 3",
                    "samples": {"grid": str(grid), "captions": ["a red circle", "a blue square"]},
                }
            )  # fmt: skip
    rows.append({**rows[0], "seed": 7, "status": "failed", "reason": "RuntimeError: out of memory at step 12",
                 "metrics": {}, "samples": None})  # fmt: skip
    rows.append({**rows[3], "seed": 8, "status": "diverged", "reason": "loss_d is nan at step 345 (last finite 4.2)",
                 "metrics": {"fid": 999.0}, "samples": None})  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    """A bench output directory whose store holds the synthetic rows (built once per module)."""
    bench = tmp_path_factory.mktemp("bench")
    store = ResultStore(bench / "results.sqlite")
    for row in _synthetic_rows(bench):
        run_id = store.add_run(row)
        if row["status"] == "ok":
            store.add_curve_points(run_id, [(s, "loss_d", 1.0 / (s + 1)) for s in range(0, 100, 10)])
            store.add_curve_points(run_id, [(s, "fid", 100.0 - s / 10) for s in (50, 100)])
    return bench


@pytest.fixture
def store(bench_dir):
    return ResultStore(bench_dir, create=False)


def _expected_leaderboard(tmp_path) -> pd.DataFrame:
    """The same seeded rows, grouped by pandas directly from the row dicts."""
    rows = pd.DataFrame(_synthetic_rows(tmp_path))
    ok = rows[rows["status"] == "ok"].copy()
    for name in ("fid", "caption-accuracy.exact", "clip_score"):
        ok[name] = ok["metrics"].map(lambda m, name=name: m[name])
    ok["train"] = ok["throughput"].map(lambda t: t["train_images_per_s.stage1"])
    ok["sample"] = ok["metrics"].map(lambda m: m["sample-throughput"])
    ok["peak"] = ok["metrics"].map(lambda m: m["peak-memory"])
    columns = ["fid", "caption-accuracy.exact", "clip_score", "train", "sample", "peak"]
    return ok.groupby(["model", "variant"])[columns].agg(["mean", "std", "count"])


OURS = {"fid": "metric.fid", "caption-accuracy.exact": "metric.caption-accuracy.exact",
        "clip_score": "metric.clip_score", "train": "cost.train_images_per_s.stage1",
        "sample": "cost.sample_images_per_s", "peak": "cost.peak_memory_mb"}  # fmt: skip
HEADERS = {"fid": "FID ↓", "caption-accuracy.exact": "exact match ↑", "clip_score": "CLIP score ↑",
           "train": "train img/s (stage1)", "sample": "sample img/s", "peak": "peak MB"}  # fmt: skip


def test_leaderboard_matches_independent_groupby(store, tmp_path):
    expected = _expected_leaderboard(tmp_path)
    stats = leaderboard_stats(store.runs())
    for key in expected.index:
        for theirs, ours in OURS.items():
            for stat in ("mean", "std"):
                assert stats.loc[key, (ours, stat)] == pytest.approx(expected.loc[key, (theirs, stat)])
            assert stats.loc[key, (ours, "count")] == 3  # the failed and diverged runs are not counted
    # the diverged run's fid of 999 must not leak into the mean
    assert stats.loc[("stackgan", "ca=false"), ("metric.fid", "mean")] < 200

    table = leaderboard_table(store.runs()).set_index("model")
    for model, variant in expected.index:
        row = table.loc[f"{model} [{variant}]" if variant else model]
        assert row["seeds"] == "3 ok, 1 not"
        for theirs, header in HEADERS.items():
            mean, std = (expected.loc[(model, variant), (theirs, stat)] for stat in ("mean", "std"))
            assert row[header] == format_mean_std(mean, std, 3)


def test_leaderboard_is_compact(store):
    table = leaderboard_table(store.runs())
    assert len(table.columns) <= 10
    assert list(table.columns[:2]) == ["model", "seeds"]
    headers = list(table.columns[2:])
    # the values their metrics declare headline (a recorded declaration first), then cost; KID is appendix-only
    assert headers == ["CLIP score ↑", "exact match ↑", "R-precision ↑", "FID ↓",
                       "train img/s (stage1)", "sample img/s", "peak MB"]  # fmt: skip
    for word in (".std", "chance", "normalised", "shape", "colour", "throughput", "peak-memory"):
        assert not any(word in h for h in headers), word


def test_report_files_and_content(store, tmp_path):
    out = tmp_path / "report"
    written = build_report(store, out, command="ganzoo bench --models stackgan --seeds 3")
    for key in ("markdown", "html", "throughput_chart", "curves_chart"):
        assert written[key].is_file() and written[key].stat().st_size > 0
    assert written["throughput_chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written["curves_chart"].parent == out / "figures"
    assert len([k for k in written if k.startswith("samples/")]) == 6

    md = written["markdown"].read_text()
    assert "ganzoo bench --models stackgan --seeds 3" in md
    assert "deadbeef" in md and "2.14.1" in md
    # leaderboard cells are the formatted groupby statistics
    runs = store.runs()
    ok = runs[(runs["status"] == "ok") & (runs["variant"] == "ca=false")]
    cell = format_mean_std(ok["metric.fid"].mean(), ok["metric.fid"].std(), 3)
    assert cell in md
    # failed/diverged runs are listed with their reasons
    assert "Failed and diverged runs" in md
    assert "RuntimeError: out of memory at step 12" in md
    assert "loss_d is nan at step 345 (last finite 4.2)" in md
    # unavailable metrics, provenance, budget, per-attribute accuracy, sample captions
    assert "no classifier fine-tuned on shapes" in md
    assert "pt_inception-2015-12-05" in md and "shapes test split" in md
    assert "steps=600" in md
    assert "| FID ↓ " in md  # short header with the direction
    assert "## Caption accuracy per attribute" in md and "halfway from chance to perfect" in md
    assert "a blue square" in md
    # the appendix comes last, folded, and keeps every recorded number, companions included
    appendix = md.index("<summary><h2>Appendix: all metrics</h2></summary>")
    assert appendix > md.index("<summary><h2>Every run's samples</h2></summary>") > md.index("## Leaderboard")
    tail = md[appendix:]
    for name in ("kid.std", "r-precision.chance", "caption-accuracy.shape.normalised", "peak-memory.train",
                 "throughput.train_images_per_s.stage1", "run.wall_time_s"):  # fmt: skip
        assert f"| {name} " in tail, name
    assert "1e-07" in tail


def test_caption_tables_normalise_by_hand(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    base = {"caption-accuracy.exact.chance": 0.01, "caption-accuracy.shape.chance": 0.2,
            "caption-accuracy.colour.chance": 0.125}  # fmt: skip
    for seed, (shape, colour) in enumerate([(0.6, 0.3), (0.6, 0.475)]):
        store.add_run({"model": "a", "variant": "", "seed": seed, "status": "ok",
                       "metrics": {**base, "caption-accuracy.shape": shape, "caption-accuracy.colour": colour,
                                   "caption-accuracy.exact": 0.1, "caption-accuracy.exact.unseen": 0.05}})  # fmt: skip
    store.add_run({"model": "b", "variant": "x", "seed": 0, "status": "ok",
                   "metrics": {**base, "caption-accuracy.shape": 0.9, "caption-accuracy.colour": 0.125,
                               "caption-accuracy.exact": 0.01}})  # fmt: skip
    runs = store.runs()
    accuracy = caption_accuracy_table(runs).set_index("model")
    assert list(accuracy.columns[2:]) == ["shape", "colour", "exact", "exact (unseen)"]
    assert accuracy.loc["b", "shape"] == "0.900"
    assert accuracy.loc["a", "colour"] == format_mean_std(0.3875, np.std([0.3, 0.475], ddof=1), 2)

    table = caption_normalised_table(runs).set_index("model")
    assert table.loc["chance level", "shape"] == "0.2" and table.loc["chance level", "colour"] == "0.125"
    assert table.loc["chance level", "exact (unseen)"] == "0.01"
    # shape 0.6 with chance 0.2: (0.6 - 0.2) / 0.8 = 0.5, halfway from chance to perfect
    assert table.loc["a", "shape"] == "0.5 ± 0"
    # colour: (0.3 - 0.125) / 0.875 = 0.2 and (0.475 - 0.125) / 0.875 = 0.4
    assert table.loc["a", "colour"] == format_mean_std(0.3, np.std([0.2, 0.4], ddof=1), 2)
    assert table.loc["b", "shape"] == f"{(0.9 - 0.2) / 0.8:.3f}" and table.loc["b", "colour"] == "0.000"
    # unseen exact match is judged against the chance of exact match: (0.05 - 0.01) / 0.99
    assert table.loc["a", "exact (unseen)"].startswith(f"{(0.05 - 0.01) / 0.99:.3f}")
    assert table.loc["b", "exact (unseen)"] == "–"


def test_single_seed_and_failed_only_groups_are_not_silent(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add_run({"model": "vae", "variant": "", "seed": 0, "status": "ok", "metrics": {"fid": 120.25}})
    store.add_run({"model": "ebgan", "variant": "", "seed": 0, "status": "diverged", "reason": "nan at step 3"})
    md = build_report(store, tmp_path / "out")["markdown"].read_text()
    vae_line = next(line for line in md.splitlines() if line.startswith("| vae"))
    assert re.search(r"\| 120\.[23] +\|", vae_line) and "±" not in vae_line  # one seed: its value alone
    ebgan_line = next(line for line in md.splitlines() if line.startswith("| ebgan"))
    assert "| 0 " in ebgan_line and "–" in ebgan_line  # no ok seed, shown as a gap with a count
    assert "nan at step 3" in md


def test_throughput_and_memory_fall_back_to_the_row_and_appear_once(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for seed in range(2):  # metrics and the row's throughput record hold the same numbers
        store.add_run({"model": "m", "variant": "", "seed": seed, "status": "ok", "peak_memory_mb": 100.0,
                       "throughput": {"train_images_per_s.train": 10.0 + seed, "sample_images_per_s": 50.0},
                       "metrics": {"kid": 0.2 + seed, "kid.std": 1e-7 * (1 + seed), "sample-throughput": 50.0,
                                   "train-throughput.train": 10.0 + seed, "peak-memory": 300.0 + seed}})  # fmt: skip
    for seed in range(2):  # an older row: no throughput or memory metrics, a scalar train rate
        store.add_run({"model": "old", "variant": "", "seed": seed, "status": "ok", "peak_memory_mb": 200.0 + seed,
                       "throughput": {"train_images_per_s": 7.0, "sample_images_per_s": 70.0 + seed},
                       "metrics": {"kid": 0.5}})  # fmt: skip
    runs = store.runs()
    table = leaderboard_table(runs).set_index("model")
    assert list(table.columns) == ["seeds", "train img/s", "sample img/s", "peak MB"]  # KID: appendix
    assert table.loc["m", "train img/s"] == format_mean_std(10.5, np.std([10, 11], ddof=1), 2)
    assert table.loc["m", "peak MB"] == format_mean_std(300.5, np.std([300, 301], ddof=1), 2)  # the metric wins
    assert table.loc["old", "train img/s"] == format_mean_std(7.0, 0.0, 2)
    assert table.loc["old", "peak MB"] == format_mean_std(200.5, np.std([200, 201], ddof=1), 2)
    stats = leaderboard_stats(runs)
    assert stats.loc[("old", ""), ("cost.sample_images_per_s", "mean")] == pytest.approx(70.5)
    written = build_report(store, tmp_path / "out")
    assert "throughput_chart" in written
    md = written["markdown"].read_text()
    assert "1.5e-07 ± 7.1e-08" in md[md.index("Appendix: all metrics"):]  # the within-run spread, appendix only
    assert "kid.std" in md


@pytest.mark.parametrize(
    "p, df, expected",
    [(0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 10, 2.228),
     (0.975, 30, 2.042), (0.95, 2, 2.920), (0.995, 3, 5.841), (0.95, 120, 1.658)],
)  # fmt: skip
def test_t_quantile_matches_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=5e-4)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=5e-4)
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-10)


def test_t_distribution_limits():
    assert t_cdf(0.0, 3) == pytest.approx(0.5)
    assert t_cdf(1.0, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + atan(1)/pi
    assert t_quantile(0.975, 1e9) == pytest.approx(1.959964, abs=1e-5)
    assert t_quantile(0.975, math.inf) == pytest.approx(1.959964, abs=1e-5)


def test_welch_interval_by_hand():
    a, b = [1, 2, 3], [2, 3, 4, 5]
    # means 2 and 3.5, sample variances 1 and 5/3
    se2 = 1 / 3 + (5 / 3) / 4
    df = se2**2 / ((1 / 3) ** 2 / 2 + ((5 / 3) / 4) ** 2 / 3)
    assert df == pytest.approx(4.9592, abs=1e-4)
    result = welch_interval(a, b)
    assert result.difference == pytest.approx(1.5)
    assert result.df == pytest.approx(df)
    half = result.high - 1.5
    assert result.low == pytest.approx(1.5 - half)
    # t_{0.975, 4.96} lies between the table values for 5 and 4 degrees of freedom
    assert 2.571 < half / math.sqrt(se2) < 2.776
    assert half / math.sqrt(se2) == pytest.approx(t_quantile(0.975, df))
    assert (result.low, result.high) == pytest.approx((-0.7317, 3.7317), abs=1e-3)
    assert not result.excludes_zero
    single = welch_interval([1.0], [2.0, 3.0])
    assert single.difference == 1.5 and math.isnan(single.low)


def stackgan_reference(key):
    from ganzoo.registry import get_registry

    return get_registry().model("stackgan").reference_ablations[key]


def test_ablation_report(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for seed, (a, b) in enumerate([(1, 2), (2, 3), (3, 4), (None, 5)]):
        for variant, value in (("ca=false", a), ("", b)):
            if value is not None:
                store.add_run({"model": "stackgan", "variant": variant, "seed": seed, "status": "ok",
                               "metrics": {"diversity": 0.1 * value, "diversity.real": 0.9, "fid": float(value),
                                           "caption-accuracy.shape": 0.2 + 0.08 * value,
                                           "caption-accuracy.shape.chance": 0.2,
                                           "sample-throughput": 100.0}})  # fmt: skip
    store.add_run({"model": "stackgan", "variant": "", "seed": 9, "status": "diverged", "reason": "nan at step 77",
                   "metrics": {"fid": 1000.0}})  # fmt: skip
    stats = ablation_stats(store.runs(), ("stackgan", "ca=false"), ("stackgan", ""))
    fid = stats.set_index("column").loc["metric.fid"]
    assert (fid["n_a"], fid["n_b"]) == (3, 4)
    assert fid["difference"] == pytest.approx(1.5)
    assert (fid["low"], fid["high"]) == pytest.approx((-0.7317, 3.7317), abs=1e-3)
    # headline metrics first (in the leaderboard's order), then cost, then normalised caption accuracy
    assert list(stats["column"]) == ["metric.fid", "metric.diversity", "cost.sample_images_per_s", "normalised.shape"]
    shape = stats.set_index("column").loc["normalised.shape"]
    assert shape["difference"] == pytest.approx(0.08 * 1.5 / 0.8)  # (acc - 0.2) / 0.8 is linear in the fid value

    written = build_ablation_report(store, tmp_path / "abl", ("stackgan", "ca=false"), ("stackgan", ""),
                                    command="ganzoo ablate stackgan --option ca")  # fmt: skip
    md = written["markdown"].read_text()
    assert "[-0.73, 3.73]" in md
    assert "| diversity ↑ " in md and "| normalised shape " in md and "halfway from chance to perfect" in md
    assert "| diversity.real " in md[md.index("## Appendix: all metrics"):]
    # the reference figures come from the model plugin, for the key the arms differ in (ca)
    assert stackgan_reference("ca")["note"] in md and "2.95" in md and "3.70" in md and "econdary source" in md
    assert "nan at step 77" in md
    assert "ganzoo ablate stackgan --option ca" in md
    assert written["ablation_chart"].is_file()
    no_paper = build_ablation_report(store, tmp_path / "abl2", ("stackgan", "ca=false"), ("stackgan", ""),
                                     paper_reference=None)  # fmt: skip
    assert stackgan_reference("ca")["title"] not in no_paper["markdown"].read_text()


def test_reference_figures_come_from_the_model_plugin():
    from ganzoo.report.reference import ablated_key, reference_for_arms

    assert ablated_key(("stackgan", "ca=false"), ("stackgan", "")) == "ca"
    assert ablated_key(("stackgan", "ca=false,stage=2"), ("stackgan", "stage=2")) == "ca"
    assert ablated_key(("stackgan", "ca=false,stage=1"), ("stackgan", "stage=2")) is None
    assert ablated_key(("stackgan", "ca=false"), ("ebgan", "")) is None
    assert reference_for_arms(("stackgan", "ca=false"), ("stackgan", "")) is stackgan_reference("ca")
    assert reference_for_arms(("ebgan", "margin=1"), ("ebgan", "")) is None


def test_report_roles_are_read_from_the_rows(tmp_path):
    """Cost columns and the per-attribute section follow what the rows recorded, for metrics no
    installed plugin knows."""
    from ganzoo.report import columns

    store = ResultStore(tmp_path / "r.sqlite")
    store.add_run({"model": "m", "variant": "", "seed": 0, "status": "ok",
                   "metrics": {"speedo": 42.0, "attrs.size": 0.5, "attrs.size.chance": 0.5, "attrs.hue": 1.0,
                               "attrs.hue.chance": 0.25, "attrs.hue.dark": 1.0,
                               "attrs.shade": 0.7, "attrs.shade.chance": 0.5, "attrs.mean_score": 0.6},
                   "metric_info": {"speedo": {"report": {"role": "sample-cost", "attributes": []}},
                                   "attrs": {"report": {"role": "attribute-accuracy",
                                                        "attributes": ["size", "hue", "hue.dark"]}}}})
    runs = columns.augment(store.runs())
    assert runs["cost.sample_images_per_s"].iloc[0] == 42.0
    # an undeclared attribute (it has a chance level) comes after the declared ones; a summary
    # without a chance level (a mean over attributes) is no attribute
    assert columns.caption_attributes(runs) == ["size", "hue", "shade", "hue.dark"]
    assert runs["normalised.hue"].iloc[0] == 1.0 and runs["normalised.size"].iloc[0] == 0.0
    assert runs["normalised.hue.dark"].iloc[0] == 1.0  # a part is judged against its attribute's chance
    assert not len(tables_provenance(store.runs()))  # the role is not how a metric was computed


def tables_provenance(runs):
    from ganzoo.report.tables import provenance_table

    return provenance_table(runs)


def test_markdown_table_escapes_pipes():
    text = markdown_table(pd.DataFrame({"a": ["x|y"], "b": [1]}))
    lines = text.splitlines()
    assert lines[0].startswith("| a") and lines[1].startswith("|---")
    assert "x\\|y" in lines[2]


def test_cli_report(store, tmp_path):
    result = CliRunner().invoke(cli, ["report", str(store.path.parent), "-o", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "cli" / "report.html") in result.output
    assert (tmp_path / "cli" / "figures" / "throughput.png").is_file()
    assert (tmp_path / "cli" / "data" / "runs.csv").is_file()
    ablation = ["report", str(store.path), "-o", str(tmp_path / "abl"), "--ablation", "stackgan:ca=false", "stackgan"]
    result = CliRunner().invoke(cli, ablation)
    assert result.exit_code == 0, result.output
    assert stackgan_reference("ca")["note"] in (tmp_path / "abl" / "report.md").read_text()
    typo = CliRunner().invoke(cli, ablation[:-2] + ["stackgan:ca=fals", "stackgan"])
    assert typo.exit_code != 0 and "arms in the store: stackgan, stackgan:ca=false" in typo.output


def test_cli_missing_store_is_one_line_error(tmp_path):
    missing = tmp_path / "nothing.sqlite"
    result = CliRunner().invoke(cli, ["report", str(missing), "-o", str(tmp_path / "o")])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "nothing.sqlite" in lines[0]
    assert not missing.exists()  # reading a report never creates a store
    assert not (tmp_path / "o").exists()


def test_cli_invalid_store_is_one_line_error(tmp_path):
    junk = tmp_path / "results.sqlite"
    junk.write_text("this is not sqlite " * 50)
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "not a ganzoo results store" in lines[0]
