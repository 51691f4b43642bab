"""The benchmark report of a real tiny bench: section order, headline leaderboard, embedded images,
and a third-party metric given with ``--metrics`` shown with its declared title and arrow.

The third-party metric is a plugin in a temporary folder (a module and a hand-written
``*.dist-info`` with its ``ganzoo`` entry point) put on PYTHONPATH for the bench and its worker
processes, so it is found exactly as an installed package would be, without touching the
shared environment.
"""

from __future__ import annotations

import base64
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ganzoo.metrics import Presentation
from ganzoo.report import build_report
from ganzoo.store import COLUMNS, ResultStore

MODELS = "gan-int-cls:ngf=4,ndf=4,batch_size=8,image_size=16,z_dim=8,vae:ngf=4,ndf=4,batch_size=8,image_size=16,z_dim=8"
SMALL = ["--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32", "--device", "cpu", "--no-progress",
         "--text-norm", "zscore", "--eval-samples", "12"]
SECTIONS = ["Leaderboard", "Caption accuracy per attribute", "Samples side by side", "Quality against compute",
            "Loss curves", "Failed and diverged runs, and collapsed ones", "Environment and provenance",
            "Every run's samples", "Appendix: all metrics"]

PLUGIN = '''
import torch
from ganzoo import hookimpl
from ganzoo.metrics import Metric, MetricResult, Presentation, SampleStream


class PixelMean(Metric):
    name = "pixel-mean"
    description = "Mean pixel value of the generated samples"
    presentation = {"pixel-mean": Presentation("brightness", False, "mean pixel value of the samples, in [-1, 1]",
                                               headline=True)}

    def compute(self, ctx, shared):
        means = [batch.images.float().mean().reshape(1) for batch in SampleStream(ctx)]
        return MetricResult(values={"pixel-mean": float(torch.cat(means).mean())})


@hookimpl
def register_metrics(register):
    register("pixel-mean", PixelMean, PixelMean.description)
'''


def third_party_site(root: Path) -> Path:
    site = root / "site"
    (site / "ganzoo_pixel_mean-0.1.dist-info").mkdir(parents=True)
    (site / "ganzoo_pixel_mean.py").write_text(PLUGIN)
    (site / "ganzoo_pixel_mean-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ganzoo-pixel-mean\nVersion: 0.1\n")
    (site / "ganzoo_pixel_mean-0.1.dist-info" / "entry_points.txt").write_text(
        "[ganzoo]\npixel_mean = ganzoo_pixel_mean\n")
    return site


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(third_party_site(root)), env.get("PYTHONPATH")) if p)
    env.pop("GANZOO_PLUGINS", None)
    out = root / "bench"
    cmd = [sys.executable, "-m", "ganzoo", "bench", "--models", MODELS, "--steps", "6", "--out", str(out),
           "--metrics", "caption-accuracy,r-precision,pixel-mean,train-throughput,sample-throughput",
           "--eval-every", "16", "--allow-failures"] + SMALL
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def sections(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", page)]


def leaderboard_headers(page: str) -> list[str]:
    table = page[page.index("<h2>Leaderboard</h2>"):].split("</table>")[0]
    head = table.split("</thead>")[0]
    return [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", head)]


def assert_images_embedded(page: str, written: dict, out: Path) -> None:
    sources = re.findall(r'<img[^>]* src="([^"]*)"', page)
    assert sources, "no image in the report"
    for source in sources:
        assert source.startswith("data:image/png;base64,"), source[:80]
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    pngs = [p for k, p in written.items() if str(p).endswith(".png") and not k.startswith("data/")]
    assert len(sources) == len(pngs)  # every figure written is shown, once
    for target in re.findall(r"!\[[^\]]*\]\(([^)]*)\)", (out / "report.md").read_text()):
        assert (out / target).is_file(), target  # report.md links files next to it


def relabelled_ok(out: Path) -> ResultStore:
    """The same rows and curves with status ok: tiny runs usually collapse, which keeps them out of every
    mean, and the sections that only use ok runs (the answer, the accuracy chart) would stay empty."""
    source = ResultStore(out, create=False)
    target = ResultStore(out / "relabelled.sqlite")
    curves = source.curves()
    for row in source.runs().to_dict("records"):
        record = {k: row[k] for k in COLUMNS if k in row and row[k] is not None and row[k] == row[k]}
        record.update(status="ok", reason=None)
        run_id = target.add_run({k: v for k, v in record.items() if k != "run_id"})
        points = curves[curves["run_id"] == row["run_id"]]
        target.add_curve_points(run_id, zip(points["step"], points["name"], points["value"]))
    return target


def test_bench_report_order_headline_leaderboard_images_and_third_party_metric(bench, tmp_path):
    from ganzoo.registry import get_registry

    # the bench's own report: tiny runs may end collapsed, the layout is the same
    page = (bench / "report" / "report.html").read_text()
    assert sections(page) == SECTIONS
    assert page.index('<p class="answer">') < page.index("<h2>Leaderboard</h2>")  # the answer first
    folded = page[page.index("<details>"):]
    for name in SECTIONS[-3:]:
        assert f"<summary><h2>{html.escape(name)}</h2></summary>" in folded
    assert page.count("<details>") == 3 and "<h2>Environment" not in page[:page.index("<details>")]
    assert "data:" not in re.sub(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"', "", page)

    # a third-party metric given with --metrics: its declared title and arrow, and its legend line
    headers = leaderboard_headers(page)
    assert "brightness ↓" in headers
    assert "brightness: mean pixel value of the samples, in [-1, 1]" in page
    md = (bench / "report" / "report.md").read_text()
    assert "| brightness ↓ " in md

    # the runs marked ok: the answer names the leader; every section filled; every image embedded
    store = relabelled_ok(bench)
    written = build_report(store, tmp_path / "report", title="tiny bench")
    page = written["html"].read_text()
    assert sections(page) == SECTIONS
    for key in ("caption_accuracy_chart", "comparison_grid", "quality_compute_chart", "curves_chart",
                "throughput_chart"):
        assert written[key].is_file(), key
    assert_images_embedded(page, written, tmp_path / "report")
    answer = html.unescape(re.search(r'<p class="answer">(.*?)</p>', page).group(1))
    assert "leads on" in answer and "brightness ↓" in answer

    # the leaderboard's metric columns are exactly the headline values, in the order they were asked for
    declared = []  # this process does not load the third-party plugin: its declaration is the one above
    for name in ("caption-accuracy", "r-precision"):
        declared += list((get_registry().get("metric", name).obj.presentation or {}).values())
    declared.append(Presentation("brightness", False, headline=True))
    expected = [p.title + (" ↑" if p.higher_is_better else " ↓") for p in declared if p.headline]
    assert expected[-1] == "brightness ↓" and len(expected) == 3
    headers = leaderboard_headers(page)
    assert headers[:2] == ["model", "seeds"]
    assert headers[2:2 + len(expected)] == expected
    assert all(h.startswith(("train img/s", "sample img/s", "peak MB")) for h in headers[2 + len(expected):])
    for appendix_only in ("KID", "diversity", ".chance", "shape"):
        assert not any(appendix_only in h for h in headers), appendix_only

    # quality against compute: measured during training, recorded with images seen and wall time
    curves = store.curves()
    for name in ("eval.caption-accuracy.exact", "eval.r-precision", "eval.images_seen", "eval.wall_time_s"):
        assert name in set(curves["name"]), name
    assert "eval.pixel-mean" not in set(curves["name"])  # only metrics that declare themselves cheap
    seen = sorted(curves[curves["name"] == "eval.images_seen"]["value"].unique())
    assert seen == [0, 16, 32, 48]  # before training, every 16 images seen, and at the end (6 steps of 8)
