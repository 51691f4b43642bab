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
LINE_STYLES = ("-", "--", ":", "-.")


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


def curves_chart(curves: pd.DataFrame, runs: pd.DataFrame, path: Path) -> Path | None:
    """One subplot per curve name (loss or metric), one line per run."""
    if curves.empty:
        return None
    runs = prepare(runs).set_index("run_id")
    groups = sorted({(r["model"], r["variant"]) for _, r in runs.iterrows()})
    names = sorted(curves["name"].unique())
    figure, axes_list = _grid(len(names))
    for axes, name in zip(axes_list, names):
        part = curves[curves["name"] == name]
        for run_id, points in part.groupby("run_id", sort=False):
            points = points.sort_values("step")
            style = {"linewidth": 1, "alpha": 0.85}
            if run_id in runs.index:  # a colour per model/variant, a line style per seed
                run = runs.loc[run_id]
                label = f"{arm_label(run['model'], run['variant'])} s{run['seed']}"
                style["color"] = f"C{groups.index((run['model'], run['variant'])) % 10}"
                style["linestyle"] = LINE_STYLES[0 if pd.isna(run["seed"]) else int(run["seed"]) % len(LINE_STYLES)]
            else:
                label = str(run_id)[:8]
            if len(points) <= 20:  # few points (short runs): show them, a lone point has no line
                style.update(marker="o", markersize=3)
            axes.plot(points["step"], points["value"], label=label, **style)
        axes.set_title(name)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
    axes_list[0].legend(fontsize="x-small")
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
