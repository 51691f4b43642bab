"""PNG figures for reports.

Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas directly, never through
pyplot, so building a report neither needs a display nor changes the process's backend.
Each function returns the written path, or None when there is nothing to draw.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganzoo.report.columns import GROUP, augment, directions, header
from ganzoo.report.tables import Arm, arm_label, ok_runs, prepare, throughput_columns

DPI = 110


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI, format="png")
    return path


def _grid(count: int, max_columns: int = 3, cell=(4.2, 3.0)) -> tuple[Figure, list]:
    columns = min(max_columns, count)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(cell[0] * columns, cell[1] * rows))
    axes = [figure.add_subplot(rows, columns, i + 1) for i in range(count)]
    return figure, axes


def throughput_chart(runs: pd.DataFrame, path: Path) -> Path | None:
    """One panel per throughput kind (train, sample images/s): a bar per model/variant, ±std."""
    runs = augment(runs)
    columns = throughput_columns(runs)
    ok = ok_runs(runs)
    if not columns or ok.empty:
        return None
    stats = ok.groupby(GROUP, sort=True)[columns].agg(["mean", "std"])
    labels = [arm_label(m, v) for m, v in stats.index]
    x = np.arange(len(labels))
    figure, axes_list = _grid(len(columns), max_columns=2, cell=(max(3.5, 0.9 * len(labels) + 1.5), 3.4))
    for axes, column in zip(axes_list, columns):
        means = stats[(column, "mean")].to_numpy(dtype=float)
        errors = np.nan_to_num(stats[(column, "std")].to_numpy(dtype=float))
        axes.bar(x, means, 0.7, yerr=errors, capsize=3, color=[f"C{i % 10}" for i in range(len(labels))])
        axes.set_xticks(x, labels, rotation=25, ha="right", fontsize="small")
        axes.set_ylabel("images / s")
        axes.set_title(f"{header(column)} (mean ± std over seeds)", fontsize="medium")
        axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def ablation_chart(runs: pd.DataFrame, arm_a: Arm, arm_b: Arm, columns: list[str], path: Path) -> Path | None:
    """Per column of an augmented frame: every seed's value in each arm (dots) and the arm mean (bar)."""
    if not columns:
        return None
    ok = ok_runs(augment(runs))
    arms = [ok[(ok["model"] == m) & (ok["variant"] == v)] for m, v in (arm_a, arm_b)]
    figure, axes_list = _grid(len(columns), max_columns=4, cell=(3.2, 3.0))
    for axes, column in zip(axes_list, columns):
        for x, arm in enumerate(arms):
            values = arm[column].dropna().astype(float).to_numpy()
            if values.size:
                axes.bar(x, values.mean(), 0.6, alpha=0.35, color=f"C{x}")
                axes.scatter(np.full(values.size, x), values, color=f"C{x}", zorder=3, s=14)
        axes.set_xticks([0, 1], ["A", "B"])
        axes.set_title(header(column, directions(ok)), fontsize="small")
    figure.suptitle(f"A = {arm_label(*arm_a)},  B = {arm_label(*arm_b)}", fontsize="small")
    return _save(figure, path)


# -- the benchmark report's figures ---------------------------------------------------------------

EVAL_PREFIX = "eval."  # curve names of the metrics measured during training (--eval-every)
EVAL_IMAGES = "eval.images_seen"
EVAL_WALL = "eval.wall_time_s"


def _group_colours(runs: pd.DataFrame) -> dict[tuple[str, str], str]:
    groups = sorted({(r.model, r.variant) for r in prepare(runs).itertuples()})
    return {g: f"C{i % 10}" for i, g in enumerate(groups)}


def caption_accuracy_chart(runs: pd.DataFrame, path: Path) -> Path | None:
    """Grouped bars: per attribute, one bar per model (mean ± std over ok seeds); chance drawn as a black line."""
    from ganzoo.report import columns as cols

    runs = augment(runs)
    attributes = [a for a in cols.caption_attributes(runs) if a.count(".") == 0]
    ok = ok_runs(runs)
    if not attributes or ok.empty:
        return None
    names = [cols.accuracy_column(runs, a) for a in attributes]
    stats = ok.groupby(GROUP, sort=True)[names].agg(["mean", "std"])
    colours = _group_colours(runs)
    n = len(stats.index)
    width = 0.8 / max(n, 1)
    x = np.arange(len(attributes))
    figure = Figure(figsize=(max(7.0, 0.7 * len(attributes) * max(n, 2) + 2), 3.6 + 0.25 * math.ceil((n + 1) / 3)))
    axes = figure.add_subplot(1, 1, 1)
    for i, key in enumerate(stats.index):
        means = stats[[(c, "mean") for c in names]].loc[key].to_numpy(dtype=float)
        errors = np.nan_to_num(stats[[(c, "std") for c in names]].loc[key].to_numpy(dtype=float))
        axes.bar(x - 0.4 + width * (i + 0.5), means, width * 0.92, yerr=errors, capsize=2,
                 color=colours.get(tuple(key), f"C{i}"), label=arm_label(*key))
    for j, attribute in enumerate(attributes):
        chance_name = cols.chance_column(runs, attribute)
        if chance_name in runs.columns and not runs[chance_name].isna().all():
            chance = float(runs[chance_name].dropna().iloc[0])
            axes.hlines(chance, x[j] - 0.45, x[j] + 0.45, colors="black", linestyles="--", linewidth=1.2,
                        label="chance" if j == 0 else None)
    axes.set_xticks(x, [cols.attribute_label(a) for a in attributes])
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("accuracy")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize="small", ncol=min(n + 1, 3), loc="upper center", bbox_to_anchor=(0.5, -0.12),
                frameon=False)
    axes.set_title("Caption accuracy per attribute (mean ± std over seeds; dashed: chance)", fontsize="medium")
    return _save(figure, path)


def comparison_grid(panels: list[tuple[str, Path]], path: Path, caption_width: int) -> Path | None:
    """The models' sample grids side by side (same captions, same z), one caption column at the left.

    Each panel is a grid written by :func:`ganzoo.grid.save_grid` (caption | stage-1 | stage-2 ...);
    the caption column is kept for the first panel only, and each panel gets its label on top."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    images = [(label, PILImage.open(p).convert("RGB")) for label, p in panels if Path(p).is_file()]
    if not images:
        return None
    if any(img.width <= caption_width for _, img in images):  # not grids of save_grid: keep them whole
        caption_width = 0
    crops = [img if i == 0 or not caption_width else img.crop((caption_width, 0, img.width, img.height))
             for i, (_, img) in enumerate(images)]
    gap, top = 12, 26
    width = sum(c.width for c in crops) + gap * (len(crops) - 1)
    height = max(c.height for c in crops) + top
    canvas = PILImage.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=15)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    x = 0
    for i, ((label, _), crop) in enumerate(zip(images, crops)):
        canvas.paste(crop, (x, top))
        draw.text((x + (caption_width if i == 0 else 0) + 4, 4), label, fill=(0, 0, 0), font=font)
        x += crop.width + gap
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, format="PNG")
    return path


def _eval_points(curves: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, step) of the in-training evaluations: model, variant, seed, images, wall, values."""
    part = curves[curves["name"].str.startswith(EVAL_PREFIX)]
    if part.empty:
        return pd.DataFrame()
    wide = part.pivot_table(index=["run_id", "step"], columns="name", values="value", aggfunc="last").reset_index()
    info = prepare(runs).set_index("run_id")[["model", "variant", "seed", "status"]]
    wide = wide.join(info, on="run_id", how="inner")
    return wide[wide["status"] == "ok"] if (wide["status"] == "ok").any() else wide


def quality_compute_chart(curves: pd.DataFrame, runs: pd.DataFrame, names: list[str], path: Path,
                          titles: dict[str, str] | None = None) -> Path | None:
    """Each metric (a row) against images seen and against wall time (two columns); one line per
    model (the mean over seeds) with a band (min to max over seeds)."""
    points = _eval_points(curves, runs)
    names = [n for n in names if EVAL_PREFIX + n in points.columns]
    if points.empty or not names or EVAL_IMAGES not in points.columns:
        return None
    titles = titles or {}
    colours = _group_colours(runs)
    figure = Figure(figsize=(10.5, 2.9 * len(names)))
    for row, name in enumerate(names):
        for col, (xname, xlabel) in enumerate(((EVAL_IMAGES, "images seen"), (EVAL_WALL, "wall-clock seconds"))):
            axes = figure.add_subplot(len(names), 2, 2 * row + col + 1)
            if xname not in points.columns:
                axes.set_visible(False)
                continue
            for key, group in points.groupby(GROUP, sort=True):
                # seeds share the schedule of images seen; average the wall time of each evaluation
                by = group.groupby("step")
                xs = by[xname].mean().to_numpy(dtype=float)
                ys = by[EVAL_PREFIX + name]
                mean, low, high = (ys.mean().to_numpy(dtype=float), ys.min().to_numpy(dtype=float),
                                   ys.max().to_numpy(dtype=float))
                order = np.argsort(xs)
                colour = colours.get(tuple(key), "C0")
                seeds = group["seed"].nunique()
                axes.plot(xs[order], mean[order], color=colour, marker="o", markersize=3, linewidth=1.4,
                          label=f"{arm_label(*key)} ({seeds} seed{'s' if seeds != 1 else ''})")
                if seeds > 1:
                    axes.fill_between(xs[order], low[order], high[order], color=colour, alpha=0.18, linewidth=0)
            axes.set_xlabel(xlabel)
            axes.set_ylabel(titles.get(name, name), fontsize="small")
            axes.grid(alpha=0.3)
            if row == 0 and col == 0:
                axes.legend(fontsize="x-small")
    return _save(figure, path)


def loss_curves_chart(curves: pd.DataFrame, runs: pd.DataFrame, path: Path) -> Path | None:
    """One panel per model (its own losses mean different things): each loss against step, the mean
    over seeds with a min-to-max band."""
    losses = curves[~curves["name"].str.startswith(EVAL_PREFIX)]
    if losses.empty:
        return None
    info = prepare(runs).set_index("run_id")[["model", "variant", "seed"]]
    losses = losses.join(info, on="run_id", how="inner")
    if losses.empty:
        return None
    groups = sorted(losses.groupby(GROUP).groups)
    figure, axes_list = _grid(len(groups), max_columns=2, cell=(5.4, 3.2))
    for axes, key in zip(axes_list, groups):
        part = losses[(losses["model"] == key[0]) & (losses["variant"] == key[1])]
        for i, (name, points) in enumerate(part.groupby("name", sort=True)):
            by = points.groupby("step")["value"]
            steps = np.asarray(sorted(by.groups), dtype=float)
            mean, low, high = by.mean().to_numpy(float), by.min().to_numpy(float), by.max().to_numpy(float)
            style = {"marker": "o", "markersize": 2} if len(steps) <= 20 else {}
            axes.plot(steps, mean, color=f"C{i % 10}", linewidth=1.1, label=name, **style)
            if points["seed"].nunique() > 1:
                axes.fill_between(steps, low, high, color=f"C{i % 10}", alpha=0.18, linewidth=0)
        seeds = part["seed"].nunique()
        axes.set_title(f"{arm_label(*key)} ({seeds} seed{'s' if seeds != 1 else ''})", fontsize="small")
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="x-small")
    return _save(figure, path)
