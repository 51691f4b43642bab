"""The report's tables, computed with pandas from ``ResultStore.runs()``.

Functions named ``*_stats`` return numbers (for tests and further analysis); the others
return frames of formatted strings ready for markdown.py / html.py. Only runs with status
"ok" enter a mean; failed and diverged runs are listed by :func:`failed_table` instead.
"""

from __future__ import annotations

import json
import math
from typing import Iterable

import pandas as pd

from ganzoo.report.stats import decimals_for, format_interval, format_mean_std, format_number, welch_interval
from ganzoo.store import flatten

GROUP = ["model", "variant"]
THROUGHPUT_LABELS = {
    "throughput.train_images_per_s": "train img/s",
    "throughput.sample_images_per_s": "sample img/s",
}
RESOURCE_LABELS = {"peak_memory_mb": "peak MB", "wall_time_s": "wall s"}

Arm = tuple[str, str]


def prepare(runs: pd.DataFrame) -> pd.DataFrame:
    """Missing model/variant become "" so groupby keeps them (pandas drops NaN keys)."""
    runs = runs.copy()
    for name in GROUP:
        runs[name] = runs[name].fillna("").astype(str)
    return runs


def arm_label(model: str, variant: str) -> str:
    return f"{model} [{variant}]" if variant else model


def parse_arm(text: str) -> Arm:
    """``"stackgan:ca=false"`` -> ``("stackgan", "ca=false")``; ``"stackgan"`` -> ``("stackgan", "")``."""
    model, _, variant = text.partition(":")
    return model, variant


def ok_runs(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"] == "ok"]


def metric_columns(runs: pd.DataFrame) -> tuple[list[str], dict[str, list[str]]]:
    """Top-level metric columns, and nested ones grouped by parent (e.g. caption_accuracy).

    A metric is nested when its value in ``metrics`` is a dict; a key that merely contains a
    dot (``"kid.std"``) stays a top-level metric.
    """
    parents = {
        str(name)
        for metrics in runs.get("metrics", pd.Series(dtype=object))
        for name, value in (metrics or {}).items()
        if isinstance(value, dict)
    }
    flat, nested = [], {}
    for column in runs.columns:
        if not column.startswith("metric.") or runs[column].isna().all():
            continue
        parent = next((p for p in parents if column.startswith(f"metric.{p}.")), None)
        if parent:
            nested.setdefault(parent, []).append(column)
        else:
            flat.append(column)
    return flat, nested


def throughput_columns(runs: pd.DataFrame) -> list[str]:
    """The recorded ``throughput`` entries; if none has a value, metrics named *throughput*."""
    known = [c for c in THROUGHPUT_LABELS if c in runs.columns]
    others = sorted(c for c in runs.columns if c.startswith("throughput.") and c not in THROUGHPUT_LABELS)
    found = [c for c in known + others if not runs[c].isna().all()]
    if found:
        return found
    flat, _ = metric_columns(runs)
    return [c for c in flat if "throughput" in c]


def column_label(column: str) -> str:
    if column in THROUGHPUT_LABELS:
        return THROUGHPUT_LABELS[column]
    if column in RESOURCE_LABELS:
        return RESOURCE_LABELS[column]
    return column.split(".", 1)[1] if column.startswith(("metric.", "throughput.")) else column


def group_stats(runs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per (model, variant) over successful runs: columns (column, mean|std|count)."""
    runs = prepare(runs)
    ok = ok_runs(runs)
    if not columns:
        return pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=GROUP))
    return ok.groupby(GROUP, sort=True)[columns].agg(["mean", "std", "count"])


def leaderboard_columns(runs: pd.DataFrame) -> list[str]:
    flat, _ = metric_columns(runs)
    return list(dict.fromkeys(flat + throughput_columns(runs) + _resource_columns(runs)))


def leaderboard_stats(runs: pd.DataFrame) -> pd.DataFrame:
    """Numeric leaderboard: per (model, variant), mean/std/count of every metric and throughput."""
    return group_stats(runs, leaderboard_columns(runs))


def _resource_columns(runs: pd.DataFrame) -> list[str]:
    return [c for c in RESOURCE_LABELS if c in runs.columns and not runs[c].isna().all()]


def joined_unique(values: Iterable) -> str:
    seen = [str(v) for v in pd.unique(pd.Series(list(values)).dropna()) if str(v) != ""]
    return " / ".join(seen) if seen else "–"


def _formatted_groups(runs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per (model, variant) seen in the store, failed-only groups included."""
    runs = prepare(runs)
    stats = group_stats(runs, columns)
    rows = []
    for (model, variant), group in runs.groupby(GROUP, sort=True):
        n_ok = int((group["status"] == "ok").sum())
        row = {"model": model, "variant": variant or "–", "seeds (ok)": n_ok, "failed/diverged": len(group) - n_ok}
        for column in columns:
            if (model, variant) in stats.index:
                mean, std, count = (stats.loc[(model, variant), (column, s)] for s in ("mean", "std", "count"))
            else:
                mean, std, count = math.nan, math.nan, 0
            cell = format_mean_std(mean, std, int(count))
            if 0 < count < n_ok:  # metric missing for some seeds: say over how many it is
                cell += f" [n={int(count)}]"
            row[column_label(column)] = cell
        rows.append(row)
    return pd.DataFrame(rows)


def metric_directions(runs: pd.DataFrame) -> dict[str, str]:
    """``{"fid": "↓"}`` from metric_info entries that carry ``higher_is_better``."""
    arrows = {}
    for info in runs["metric_info"]:
        for name, entry in (info or {}).items():
            if isinstance(entry, dict) and isinstance(entry.get("higher_is_better"), bool):
                arrows.setdefault(str(name), "↑" if entry["higher_is_better"] else "↓")
    return arrows


def leaderboard_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Formatted leaderboard; a metric's header gets ↑/↓ when metric_info says which way is better."""
    table = _formatted_groups(runs, leaderboard_columns(runs))
    arrows = metric_directions(runs)
    table = table.rename(columns={n: f"{n} {a}" for n, a in arrows.items() if n in table.columns})
    budgets = prepare(runs).groupby(GROUP, sort=True)["budget"].agg(joined_unique).tolist()
    if len(table):
        table.insert(4, "budget", budgets)
    return table


def nested_metric_tables(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One small table per nested metric, e.g. caption accuracy per attribute."""
    _, nested = metric_columns(runs)
    tables = {}
    for parent, columns in nested.items():
        table = _formatted_groups(runs, columns).drop(columns=["failed/diverged"])
        table.columns = [c.split(".", 1)[1] if c.startswith(parent + ".") else c for c in table.columns]
        tables[parent] = table
    return tables


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run with its budget and what it consumed."""
    runs = prepare(runs)
    return pd.DataFrame(
        {
            "model": runs["model"],
            "variant": runs["variant"].replace("", "–"),
            "seed": runs["seed"].map(lambda v: "–" if pd.isna(v) else str(int(v))),
            "status": runs["status"].fillna("–"),
            "budget": runs["budget"].fillna("–"),
            "steps": runs["steps"].map(_integer),
            "images seen": runs["images_seen"].map(_integer),
            "wall s": runs["wall_time_s"].map(lambda v: format_number(v, 1)),
            "dataset": runs["dataset"].fillna("–"),
            "preset": runs["preset"].fillna("–"),
            "run": runs["run_id"].str[:8],
        }
    )


def _integer(value) -> str:
    return "–" if pd.isna(value) else f"{int(value):,}"


def failed_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that did not end "ok", with why; they are excluded from every mean."""
    runs = prepare(runs)
    bad = runs[runs["status"] != "ok"]
    return pd.DataFrame(
        {
            "model": bad["model"],
            "variant": bad["variant"].replace("", "–"),
            "seed": bad["seed"].map(lambda v: "–" if pd.isna(v) else str(int(v))),
            "status": bad["status"].fillna("(none recorded)"),
            "reason": bad["reason"].fillna("(no reason recorded)"),
            "steps": bad["steps"].map(_integer),
            "budget": bad["budget"].fillna("–"),
            "run": bad["run_id"].str[:8],
        }
    )


def unavailable_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Which metric was not computed, why, and for which model/variant."""
    runs = prepare(runs)
    found: dict[tuple[str, str], list[str]] = {}
    for row in runs.itertuples():
        for metric, reason in (row.unavailable or {}).items():
            labels = found.setdefault((str(metric), str(reason)), [])
            label = arm_label(row.model, row.variant)
            if label not in labels:
                labels.append(label)
    return pd.DataFrame(
        [{"metric": m, "reason": r, "runs of": ", ".join(labels)} for (m, r), labels in sorted(found.items())],
        columns=["metric", "reason", "runs of"],
    )


def provenance_table(runs: pd.DataFrame, max_values: int = 3) -> pd.DataFrame:
    """How each metric was computed, one row per (metric, property) of ``metric_info``.

    Nested info is flattened (``reference.split``); a property that differs between runs
    (e.g. a per-seed sample seed) lists its distinct values.
    """
    values: dict[tuple[str, str], list[str]] = {}
    for info in runs["metric_info"]:
        for metric, entry in (info or {}).items():
            entry = flatten(entry) if isinstance(entry, dict) else {"description": entry}
            for key, value in entry.items():
                seen = values.setdefault((str(metric), str(key)), [])
                if _short(value) not in seen:
                    seen.append(_short(value))
    rows = []
    for (metric, key), seen in values.items():
        shown = " / ".join(seen[:max_values]) + (f" / … ({len(seen)} values)" if len(seen) > max_values else "")
        rows.append({"metric": metric, "property": key, "value": shown})
    frame = pd.DataFrame(rows, columns=["metric", "property", "value"])
    return frame.sort_values(["metric"], kind="stable").reset_index(drop=True)


def _short(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def environment_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Device, git revision and library versions; differing values across runs are all listed."""
    rows = [
        {"item": "device", "value": joined_unique(runs["device"])},
        {"item": "git revision", "value": joined_unique(runs["git_rev"])},
    ]
    libraries: dict[str, list[str]] = {}
    for versions in runs["versions"]:
        for library, version in (versions or {}).items():
            seen = libraries.setdefault(str(library), [])
            if str(version) not in seen:
                seen.append(str(version))
    rows += [{"item": library, "value": " / ".join(v)} for library, v in sorted(libraries.items())]
    return pd.DataFrame(rows)


def ablation_stats(runs: pd.DataFrame, arm_a: Arm, arm_b: Arm, confidence: float = 0.95) -> pd.DataFrame:
    """Per metric (and throughput): each arm's mean/std/n and the Welch interval of b - a."""
    runs = ok_runs(prepare(runs))
    flat, nested = metric_columns(runs)
    columns = list(dict.fromkeys(flat + [c for cols in nested.values() for c in cols] + throughput_columns(runs)))
    arms = [runs[(runs["model"] == m) & (runs["variant"] == v)] for m, v in (arm_a, arm_b)]
    records = []
    for column in columns:
        a, b = (arm[column].dropna().astype(float).tolist() for arm in arms)
        if not a and not b:
            continue
        interval = welch_interval(a, b, confidence)
        records.append(
            {
                "column": column,
                "mean_a": _mean(a), "std_a": _std(a), "n_a": len(a),
                "mean_b": _mean(b), "std_b": _std(b), "n_b": len(b),
                "difference": interval.difference, "low": interval.low, "high": interval.high,
                "df": interval.df, "excludes_zero": interval.excludes_zero,
            }
        )  # fmt: skip
    return pd.DataFrame(records)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _std(values: list[float]) -> float:
    return float(pd.Series(values, dtype=float).std()) if len(values) > 1 else math.nan


def ablation_table(runs: pd.DataFrame, arm_a: Arm, arm_b: Arm, confidence: float = 0.95) -> pd.DataFrame:
    stats = ablation_stats(runs, arm_a, arm_b, confidence)
    label_a, label_b = arm_label(*arm_a), arm_label(*arm_b)
    rows = []
    for r in stats.itertuples():
        spread = r.high - r.low if not math.isnan(r.low) and r.high > r.low else math.nan
        places = decimals_for(spread / 2, 3) if not math.isnan(spread) else decimals_for(abs(r.difference), 3)
        rows.append(
            {
                "metric": column_label(r.column),
                f"A: {label_a}": format_mean_std(r.mean_a, r.std_a, r.n_a),
                "n A": r.n_a,
                f"B: {label_b}": format_mean_std(r.mean_b, r.std_b, r.n_b),
                "n B": r.n_b,
                "B − A": format_number(r.difference, places) if not math.isnan(r.difference) else "–",
                f"{confidence:.0%} CI (Welch)": format_interval(r.low, r.high, places),
                "CI excludes 0": ("yes" if r.excludes_zero else "no") if not math.isnan(r.low) else "–",
            }
        )
    return pd.DataFrame(rows)
