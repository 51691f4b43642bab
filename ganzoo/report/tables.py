"""The report's tables, computed with pandas from ``ResultStore.runs()``.

Functions named ``*_stats`` return numbers (for tests and further analysis); the others
return frames of formatted strings ready for markdown.py / html.py. Only runs with status
"ok" enter a mean; failed, diverged and collapsed runs are listed by :func:`failed_table` instead.
"""

from __future__ import annotations

import json
import math
from typing import Iterable

import pandas as pd

from ganzoo.report import columns
from ganzoo.report.columns import GROUP
from ganzoo.report.stats import decimals_for, format_interval, format_mean_std, format_number, welch_interval
from ganzoo.store import flatten

Arm = tuple[str, str]
RESOURCE_COLUMNS = ("peak_memory_mb", "wall_time_s")  # the row's own figures, listed in the appendix


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


def joined_unique(values: Iterable) -> str:
    seen = [str(v) for v in pd.unique(pd.Series(list(values)).dropna()) if str(v) != ""]
    return " / ".join(seen) if seen else "–"


def throughput_columns(runs: pd.DataFrame) -> list[str]:
    """Images/s columns of an augmented frame (training phases, then sampling)."""
    return [c for c in columns.cost_columns(runs) if c != columns.MEMORY]


def group_stats(runs: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per (model, variant) over successful runs: columns (column, mean|std|count)."""
    ok = ok_runs(prepare(runs))
    if not names:
        return pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=GROUP))
    return ok.groupby(GROUP, sort=True)[names].agg(["mean", "std", "count"])


def leaderboard_stats(runs: pd.DataFrame) -> pd.DataFrame:
    """Numeric leaderboard: per (model, variant), mean/std/count of each leaderboard column.

    Columns are named as in :func:`columns.augment`: ``metric.fid``, ``cost.sample_images_per_s``...
    """
    runs = columns.augment(runs)
    return group_stats(runs, columns.leaderboard_columns(runs))


def format_cell(mean: float, std: float, count: int, n_ok: int, decimals: int | None = None) -> str:
    """Mean ± std; a lone value stands bare (with `decimals` if given); ``[n=k]`` when only k of n_ok seeds have it."""
    if count == 0 or math.isnan(mean):
        return "–"
    text = format_number(mean, decimals) if count == 1 else format_mean_std(mean, std, count)
    return text + (f" [n={count}]" if count < n_ok else "")


def _formatted_groups(
    runs: pd.DataFrame, names: list[str], headers: dict[str, str], decimals: int | None = None
) -> pd.DataFrame:
    """One row per (model, variant) seen in ``runs``, failed-only groups included."""
    stats = group_stats(runs, names)
    rows = []
    for (model, variant), group in runs.groupby(GROUP, sort=True):
        n_ok = int((group["status"] == "ok").sum())
        row = {"model": model, "variant": variant or "–", "seeds ok": n_ok, "failed/diverged": len(group) - n_ok,
               "budget": joined_unique(group["budget"]) if "budget" in group else "–"}  # fmt: skip
        for name in names:
            if (model, variant) in stats.index:
                mean, std, count = (stats.loc[(model, variant), (name, s)] for s in ("mean", "std", "count"))
            else:
                mean, std, count = math.nan, math.nan, 0
            row[headers[name]] = format_cell(mean, std, int(count), n_ok, decimals)
        rows.append(row)
    return pd.DataFrame(rows)


def leaderboard_table(runs: pd.DataFrame) -> pd.DataFrame:
    """model (with its variant), seeds, then the headline metrics (↑/↓ in the header) and cost.

    Narrow on purpose (it has to fit a 1280 px window): budgets are in the runs table, every
    other number in the appendix."""
    runs = columns.augment(runs)
    names = columns.leaderboard_columns(runs)
    shown = columns.presentations(runs)
    arrows = columns.directions(runs)
    table = _formatted_groups(runs, names, {n: columns.header(n, arrows, shown) for n in names})
    if not len(table):
        return table
    model = [arm_label(m, "" if v == "–" else v) for m, v in zip(table["model"], table["variant"])]
    seeds = [f"{ok} ok" + (f", {bad} not" if bad else "") for ok, bad in zip(table["seeds ok"], table["failed/diverged"])]
    rest = table.drop(columns=["model", "variant", "seeds ok", "failed/diverged", "budget"])
    return pd.concat([pd.DataFrame({"model": model, "seeds": seeds}), rest], axis=1)


def leaderboard_legend(runs: pd.DataFrame) -> str:
    runs = columns.augment(runs)
    return columns.legend(runs, columns.leaderboard_columns(runs))


def caption_accuracy_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per attribute (mean ± std over ok seeds); empty when no run has caption accuracy."""
    runs = columns.augment(runs)
    attributes = columns.caption_attributes(runs)
    if not attributes:
        return pd.DataFrame()
    names = [columns.accuracy_column(runs, a) for a in attributes]
    headers = {n: columns.attribute_label(a) for n, a in zip(names, attributes)}
    return _formatted_groups(runs, names, headers, decimals=3).drop(columns=["failed/diverged", "budget"])


def caption_normalised_table(runs: pd.DataFrame) -> pd.DataFrame:
    """A "chance level" row, then each model's normalised score per attribute (mean ± std)."""
    runs = columns.augment(runs)
    attributes = [a for a in columns.caption_attributes(runs) if columns.present(runs, columns.NORMALISED + a)]
    if not attributes:  # no chance level recorded: nothing to normalise by
        return pd.DataFrame()
    names = [columns.NORMALISED + a for a in attributes]
    headers = {n: columns.attribute_label(a) for n, a in zip(names, attributes)}
    table = _formatted_groups(runs, names, headers, decimals=3).drop(columns=["failed/diverged", "budget"])
    chance = {"model": "chance level", "variant": "", "seeds ok": ""}
    for attribute in attributes:
        name = columns.chance_column(runs, attribute)
        values = pd.unique(runs[name].dropna()) if name in runs.columns else []
        chance[columns.attribute_label(attribute)] = " / ".join(f"{v:.3g}" for v in values) or "–"
    return pd.concat([pd.DataFrame([chance]), table], ignore_index=True)


def all_metrics_columns(runs: pd.DataFrame) -> list[str]:
    """Every recorded number: metrics, the row's throughput record, and its own resource figures."""
    names = [c for prefix in ("metric.", "throughput.") for c in runs.columns if c.startswith(prefix)]
    names += [c for c in RESOURCE_COLUMNS if c in runs.columns]
    return [c for c in names if columns.present(runs, c) and pd.api.types.is_numeric_dtype(runs[c])]


def all_metrics_stats(runs: pd.DataFrame) -> pd.DataFrame:
    """Long format: model, variant, metric (as recorded), mean, std, n over ok seeds."""
    runs = prepare(runs)
    names = all_metrics_columns(runs)
    stats = group_stats(runs, names)
    records = [
        {"model": model, "variant": variant, "metric": _recorded_name(name),
         "mean": stats.loc[(model, variant), (name, "mean")], "std": stats.loc[(model, variant), (name, "std")],
         "n": int(stats.loc[(model, variant), (name, "count")])}
        for model, variant in stats.index for name in names
    ]  # fmt: skip
    return pd.DataFrame(records, columns=["model", "variant", "metric", "mean", "std", "n"]).query("n > 0")


def all_metrics_table(runs: pd.DataFrame) -> pd.DataFrame:
    stats = all_metrics_stats(runs)
    return pd.DataFrame(
        {
            "model": stats["model"],
            "variant": stats["variant"].replace("", "–"),
            "metric": stats["metric"],
            "mean ± std": [format_cell(m, s, n, n) for m, s, n in zip(stats["mean"], stats["std"], stats["n"])],
            "n": stats["n"],
        }
    ).reset_index(drop=True)


def _recorded_name(column: str) -> str:
    """``metric.kid.std`` -> ``kid.std``; the row's own figures keep a prefix saying so."""
    if column.startswith("metric."):
        return column[len("metric."):]
    return column if column.startswith("throughput.") else f"run.{column}"


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
    """Runs that did not end "ok" (failed, diverged, collapsed), with why; they are excluded from every mean."""
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
            if isinstance(entry, dict):  # how a value is shown is not how it was computed
                entry = {k: v for k, v in entry.items() if k not in ("presentation", "report")}
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


def ablation_columns(runs: pd.DataFrame) -> list[str]:
    """Columns of an augmented frame an ablation compares: every metric with a declared direction
    (headline ones first), cost, then normalised caption accuracy."""
    normalised = [columns.NORMALISED + a for a in columns.caption_attributes(runs)]
    return list(dict.fromkeys(columns.declared_metrics(runs) + columns.cost_columns(runs) + normalised))


def ablation_stats(runs: pd.DataFrame, arm_a: Arm, arm_b: Arm, confidence: float = 0.95) -> pd.DataFrame:
    """Per compared column: each arm's mean/std/n and the Welch interval of b - a."""
    runs = ok_runs(columns.augment(runs))
    arms = [runs[(runs["model"] == m) & (runs["variant"] == v)] for m, v in (arm_a, arm_b)]
    records = []
    for column in ablation_columns(runs):
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
    arrows, titles = columns.directions(runs), columns.presentations(runs)
    label_a, label_b = arm_label(*arm_a), arm_label(*arm_b)
    rows = []
    for r in stats.itertuples():
        spread = r.high - r.low if not math.isnan(r.low) and r.high > r.low else math.nan
        places = decimals_for(spread / 2, 3) if not math.isnan(spread) else decimals_for(abs(r.difference), 3)
        rows.append(
            {
                "metric": columns.header(r.column, arrows, titles),
                f"A: {label_a}": format_cell(r.mean_a, r.std_a, r.n_a, r.n_a),
                "n A": r.n_a,
                f"B: {label_b}": format_cell(r.mean_b, r.std_b, r.n_b, r.n_b),
                "n B": r.n_b,
                "B − A": format_number(r.difference, places) if not math.isnan(r.difference) else "–",
                f"{confidence:.0%} CI (Welch)": format_interval(r.low, r.high, places),
                "CI excludes 0": ("yes" if r.excludes_zero else "no") if not math.isnan(r.low) else "–",
            }
        )
    return pd.DataFrame(rows)


def answer_text(runs: pd.DataFrame) -> str:
    """The one-paragraph answer: per headline metric, which model leads and by how much (mean ± std over ok seeds)."""
    runs = columns.augment(runs)
    names = columns.headline_metrics(runs)
    shown, arrows = columns.presentations(runs), columns.directions(runs)
    stats = group_stats(runs, names)
    if not len(runs):
        return "The store holds no runs yet."
    if not len(stats.index) or not names:
        return "No run finished ok with a headline metric, so nothing can be ranked; the sections below say why."
    parts, leads = [], {}
    for name in names:
        metric = name[len("metric."):]
        higher = arrows.get(metric)
        table = stats[name].dropna(subset=["mean"])
        if higher is None or not len(table):
            continue
        table = table.sort_values("mean", ascending=not higher)
        cells = [f"{arm_label(*key)} {_cell(r['mean'], r['std'], int(r['count']))}" for key, r in table.iterrows()]
        title = columns.header(name, arrows, shown)
        best = arm_label(*table.index[0])
        leads.setdefault(best, []).append(title)
        rest = f" vs {', '.join(cells[1:])}" if len(cells) > 1 else ""
        parts.append(f"{title}: **{cells[0]}**{rest}")
    if not parts:
        return "No headline metric with a direction was recorded."
    lead = "; ".join(f"**{model}** leads on {', '.join(metrics)}" for model, metrics in leads.items())
    counts = runs.groupby(GROUP)["status"].apply(lambda s: int((s == "ok").sum()))
    seeds = sorted(set(counts.tolist()))
    seed_text = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"
    not_ok = int((runs["status"] != "ok").sum())
    tail = f" {not_ok} run(s) did not end ok and are left out (listed below)." if not_ok else ""
    return (f"{lead}. Mean ± std over {seed_text} ok seed(s) per model: " + "; ".join(parts) + "." + tail)


def _cell(mean: float, std: float, count: int) -> str:
    return format_cell(mean, std, count, count)
