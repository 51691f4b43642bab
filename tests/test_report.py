"""Benchmark and ablation reports built from a store of synthetic rows."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.report import PAPER_NOT_COMPARABLE, build_ablation_report, build_report
from ganzoo.report.markdown import markdown_table
from ganzoo.report.stats import format_mean_std, t_cdf, t_quantile, welch_interval
from ganzoo.report.tables import ablation_stats, leaderboard_stats, metric_columns, throughput_columns
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
    rng = np.random.default_rng(1234)
    rows = []
    for model, variant in MODELS:
        for seed in SEEDS:
            grid = _grid_png(tmp_path / f"grid_{variant or 'base'}_{seed}.png")
            rows.append(
                {
                    "bench_id": "bench-1", "model": model, "variant": variant, "dataset": "shapes",
                    "preset": "cpu", "seed": seed, "status": "ok", "budget": "steps=600",
                    "steps": 600, "images_seen": 600 * 16, "wall_time_s": float(rng.uniform(50, 70)),
                    "peak_memory_mb": float(rng.uniform(400, 500)),
                    "metrics": {
                        "fid": float(rng.normal(80, 5)),
                        "clip_score": float(rng.normal(0.3, 0.02)),
                        "caption_accuracy": {"shape": float(rng.uniform(0.5, 1)), "color": float(rng.uniform(0.5, 1))},
                    },
                    "throughput": {"train_images_per_s": float(rng.uniform(10, 20)),
                                   "sample_images_per_s": float(rng.uniform(200, 300))},
                    "unavailable": {"inception_score": "no classifier fine-tuned on shapes"},
                    "metric_info": {"fid": {"feature_extractor": "inception-v3-compat", "weights": "pt_inception-2015-12-05",
                                            "samples": 256, "reference": "shapes test split",
                                            "higher_is_better": False}},
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


def test_leaderboard_matches_independent_groupby(store, tmp_path):
    rows = pd.DataFrame(_synthetic_rows(tmp_path))  # the same seeded rows, recomputed here
    ok = rows[rows["status"] == "ok"].copy()
    ok["fid"] = ok["metrics"].map(lambda m: m["fid"])
    ok["train"] = ok["throughput"].map(lambda t: t["train_images_per_s"])
    expected = ok.groupby(["model", "variant"])[["fid", "train"]].agg(["mean", "std", "count"])

    stats = leaderboard_stats(store.runs())
    for key in expected.index:
        for ours, theirs in (("metric.fid", "fid"), ("throughput.train_images_per_s", "train")):
            for stat in ("mean", "std"):
                assert stats.loc[key, (ours, stat)] == pytest.approx(expected.loc[key, (theirs, stat)])
            assert stats.loc[key, (ours, "count")] == 3  # the failed and diverged runs are not counted
    # the diverged run's fid of 999 must not leak into the mean
    assert stats.loc[("stackgan", "ca=false"), ("metric.fid", "mean")] < 200


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
    assert "| fid ↓ " in md  # direction from metric_info
    assert "caption accuracy per attribute" in md
    assert "a blue square" in md


def test_html_is_self_contained(store, tmp_path):
    written = build_report(store, tmp_path / "report")
    html = written["html"].read_text()
    assert "<style>" in html
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', html)
    assert len(sources) == 2 + 6  # throughput, curves, six sample grids
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "RuntimeError: out of memory at step 12" in html


def test_single_seed_and_failed_only_groups_are_not_silent(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add_run({"model": "vae", "variant": "", "seed": 0, "status": "ok", "metrics": {"fid": 120.25}})
    store.add_run({"model": "ebgan", "variant": "", "seed": 0, "status": "diverged", "reason": "nan at step 3"})
    md = build_report(store, tmp_path / "out")["markdown"].read_text()
    assert "120.2 (n=1)" in md or "120.3 (n=1)" in md
    ebgan_line = next(line for line in md.splitlines() if line.startswith("| ebgan"))
    assert "| 0 " in ebgan_line and "–" in ebgan_line  # no ok seed, shown as a gap with a count
    assert "nan at step 3" in md


def test_dotted_metric_names_are_not_nested_and_throughput_falls_back(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for seed in range(2):
        store.add_run({"model": "m", "variant": "", "seed": seed, "status": "ok",
                       "throughput": {"train_images_per_s": None},
                       "metrics": {"kid": 0.2 + seed, "kid.std": 1e-7 * (1 + seed), "sample-throughput": 10.0 + seed,
                                   "acc": {"shape": 0.5}}})  # fmt: skip
    runs = store.runs()
    flat, nested = metric_columns(runs)
    assert set(flat) == {"metric.kid", "metric.kid.std", "metric.sample-throughput"}
    assert nested == {"acc": ["metric.acc.shape"]}
    assert throughput_columns(runs) == ["metric.sample-throughput"]
    written = build_report(store, tmp_path / "out")
    assert "throughput_chart" in written
    assert "1.5e-07 ± 7.1e-08" in written["markdown"].read_text()


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


def test_ablation_report(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for seed, (a, b) in enumerate([(1, 2), (2, 3), (3, 4), (None, 5)]):
        for variant, value in (("ca=false", a), ("", b)):
            if value is not None:
                store.add_run({"model": "stackgan", "variant": variant, "seed": seed, "status": "ok",
                               "metrics": {"fid": float(value), "diversity": 0.1 * value}})  # fmt: skip
    store.add_run({"model": "stackgan", "variant": "", "seed": 9, "status": "diverged", "reason": "nan at step 77",
                   "metrics": {"fid": 1000.0}})  # fmt: skip
    stats = ablation_stats(store.runs(), ("stackgan", "ca=false"), ("stackgan", ""))
    fid = stats.set_index("column").loc["metric.fid"]
    assert (fid["n_a"], fid["n_b"]) == (3, 4)
    assert fid["difference"] == pytest.approx(1.5)
    assert (fid["low"], fid["high"]) == pytest.approx((-0.7317, 3.7317), abs=1e-3)
    assert "metric.diversity" in set(stats["column"])

    written = build_ablation_report(store, tmp_path / "abl", ("stackgan", "ca=false"), ("stackgan", ""),
                                    command="ganzoo ablate stackgan --option ca")  # fmt: skip
    md = written["markdown"].read_text()
    assert "[-0.73, 3.73]" in md
    assert "diversity" in md
    assert PAPER_NOT_COMPARABLE in md and "2.95" in md and "3.70" in md and "econdary-source" in md
    assert "nan at step 77" in md
    assert "ganzoo ablate stackgan --option ca" in md
    assert written["ablation_chart"].is_file()
    no_paper = build_ablation_report(store, tmp_path / "abl2", ("stackgan", "ca=false"), ("stackgan", ""),
                                     paper_reference=None)  # fmt: skip
    assert PAPER_NOT_COMPARABLE not in no_paper["markdown"].read_text()


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
    assert PAPER_NOT_COMPARABLE in (tmp_path / "abl" / "report.md").read_text()
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
