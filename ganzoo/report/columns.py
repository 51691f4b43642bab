"""Which recorded numbers a report shows where, and under which header.

Metric plugins record flat names: a headline value (``fid``) and its companions
(``kid.std``, ``r-precision.chance``, ``caption-accuracy.shape.normalised``,
``peak-memory.train``). The leaderboard shows only headline values, in the order of
:data:`HEADLINE`, then undotted metrics of other plugins, then cost (throughput, memory).
Caption accuracy gets its own per-attribute tables; the appendix lists every number.

:func:`augment` adds the derived columns those tables read:

* ``cost.*``: training images/s per phase, sampling images/s and peak memory, taken from
  the metrics and, where a run lacks the metric, from the row's own ``throughput`` record
  or ``peak_memory_mb`` (they hold the same numbers, so each appears once).
* ``normalised.<attribute>``: caption accuracy rescaled so chance is 0 and perfect is 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

GROUP = ["model", "variant"]


@dataclass(frozen=True)
class Headline:
    name: str  # the metric's recorded name
    header: str
    higher_is_better: bool
    meaning: str


HEADLINE = (
    Headline("caption-accuracy.exact", "exact match", True,
             "share of samples whose every captioned attribute the shapes evaluator recognises"),
    Headline("r-precision", "R-precision", True,
             "share of samples for which the shapes evaluator ranks their own caption first among candidates"),
    Headline("fid", "FID", False, "Fréchet Inception distance to real test images (torch-fidelity)"),
    Headline("kid", "KID", False, "kernel Inception distance, same features as FID"),
    Headline("is", "IS", True, "Inception score"),
    Headline("domain-fid", "domain FID", False, "FID on the features of the shapes evaluator instead of Inception"),
    Headline("domain-kid", "domain KID", False, "KID on the shapes evaluator's features"),
    Headline("domain-is", "domain IS", True, "IS over the shapes evaluator's classes"),
    Headline("diversity", "diversity", True, "spread of samples over z for one caption; about 0 means mode collapse"),
    Headline("smoothness", "smoothness", True,
             "how evenly images change along a text interpolation (1 = evenly)"),
)  # fmt: skip
HEADLINE_BY_NAME = {h.name: h for h in HEADLINE}

#: Metrics whose values the cost columns show; not repeated as "other" leaderboard metrics.
COST_METRICS = ("train-throughput", "sample-throughput", "peak-memory")
CAPTION_ACCURACY = ("caption-accuracy", "caption_accuracy")
CAPTION_ACCURACY_EXACT = tuple(f"{p}.exact" for p in CAPTION_ACCURACY)
ATTRIBUTE_ORDER = ("shape", "colour", "color", "size", "position", "background")
EXACT_PARTS = ("exact", "exact.seen", "exact.unseen")
WHOLE_PHASE = ("train", "all")  # a single training phase; its column needs no phase name

TRAIN = "cost.train_images_per_s"
SAMPLE = "cost.sample_images_per_s"
MEMORY = "cost.peak_memory_mb"
NORMALISED = "normalised."

NORMALISED_SENTENCE = (
    "The normalised score is (accuracy − chance) / (1 − chance): 0 is chance level, 1 is perfect, "
    "0.5 is halfway from chance to perfect, and below 0 is worse than guessing."
)


def present(runs: pd.DataFrame, column: str) -> bool:
    return column in runs.columns and not runs[column].isna().all()


# -- caption accuracy --------------------------------------------------------------------------


def caption_parent(runs: pd.DataFrame) -> str | None:
    """The recorded name of the caption accuracy metric, if any run has it."""
    return next((p for p in CAPTION_ACCURACY if any(c.startswith(f"metric.{p}.") for c in runs.columns)), None)


def caption_attributes(runs: pd.DataFrame) -> list[str]:
    """Attributes with a recorded accuracy: known ones in a fixed order, then others, then exact parts."""
    parent = caption_parent(runs)
    if parent is None:
        return []
    prefix = f"metric.{parent}."
    names = [c[len(prefix):] for c in runs.columns if c.startswith(prefix) and present(runs, c)]
    plain = [n for n in names if "." not in n and n != "exact"]
    ordered = [a for a in ATTRIBUTE_ORDER if a in plain] + sorted(a for a in plain if a not in ATTRIBUTE_ORDER)
    return ordered + [p for p in EXACT_PARTS if p in names]


def accuracy_column(runs: pd.DataFrame, attribute: str) -> str:
    return f"metric.{caption_parent(runs)}.{attribute}"


def chance_column(runs: pd.DataFrame, attribute: str) -> str:
    """Seen/unseen exact match are judged against the chance level of exact match itself."""
    base = "exact" if attribute.startswith("exact.") else attribute
    return f"metric.{caption_parent(runs)}.{base}.chance"


def normalised(accuracy: float, chance: float) -> float:
    """(accuracy - chance) / (1 - chance); NaN where either is missing or chance is 1."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (accuracy, chance)) or chance >= 1:
        return math.nan
    return (accuracy - chance) / (1 - chance)


def _normalised_series(runs: pd.DataFrame, attribute: str) -> pd.Series:
    accuracy = runs[accuracy_column(runs, attribute)]
    chance_name = chance_column(runs, attribute)
    chance = runs[chance_name] if chance_name in runs.columns else pd.Series(math.nan, index=runs.index)
    computed = pd.Series([normalised(a, c) for a, c in zip(accuracy, chance)], index=runs.index, dtype=float)
    recorded = accuracy_column(runs, attribute) + ".normalised"
    return computed.combine_first(runs[recorded]) if recorded in runs.columns else computed


# -- cost --------------------------------------------------------------------------------------


def _train_sources(runs: pd.DataFrame) -> dict[str, list[str]]:
    """Training phase ("" for a single whole phase) -> source columns, metric first."""
    sources: dict[str, list[str]] = {}
    for prefix in ("metric.train-throughput.", "throughput.train_images_per_s."):
        for column in runs.columns:
            if column.startswith(prefix):
                phase = column[len(prefix):]
                sources.setdefault("" if phase in WHOLE_PHASE else phase, []).append(column)
    if "throughput.train_images_per_s" in runs.columns:
        sources.setdefault("", []).append("throughput.train_images_per_s")
    return sources


def _first_present(runs: pd.DataFrame, columns: list[str]) -> pd.Series:
    values = pd.Series(math.nan, index=runs.index, dtype=float)
    for column in columns:
        if column in runs.columns:
            values = values.combine_first(pd.to_numeric(runs[column], errors="coerce"))
    return values


def augment(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``runs`` (model/variant as strings) with the derived cost and normalised columns."""
    runs = runs.copy()
    for name in GROUP:
        runs[name] = runs[name].fillna("").astype(str) if name in runs.columns else ""
    derived = {}
    for phase, sources in sorted(_train_sources(runs).items()):
        derived[f"{TRAIN}.{phase}" if phase else TRAIN] = _first_present(runs, sources)
    derived[SAMPLE] = _first_present(runs, ["metric.sample-throughput", "throughput.sample_images_per_s"])
    derived[MEMORY] = _first_present(runs, ["metric.peak-memory", "peak_memory_mb"])
    for attribute in caption_attributes(runs):
        derived[NORMALISED + attribute] = _normalised_series(runs, attribute)
    kept = runs.drop(columns=[c for c in derived if c in runs.columns])
    return pd.concat([kept, pd.DataFrame(derived, index=runs.index)], axis=1)


def cost_columns(runs: pd.DataFrame) -> list[str]:
    """Training phases (whole phase first), sampling, memory; those with a value in some run."""
    train = sorted((c for c in runs.columns if c == TRAIN or c.startswith(TRAIN + ".")), key=lambda c: (c != TRAIN, c))
    return [c for c in train + [SAMPLE, MEMORY] if present(runs, c)]


# -- the leaderboard ---------------------------------------------------------------------------


def other_metrics(runs: pd.DataFrame) -> list[str]:
    """Undotted metrics of other plugins (not headline, not cost): shown after the headline ones."""
    parents = set(CAPTION_ACCURACY) | set(COST_METRICS) | set(HEADLINE_BY_NAME)
    return sorted(
        c for c in runs.columns
        if c.startswith("metric.") and "." not in c[len("metric."):] and c[len("metric."):] not in parents
        and present(runs, c)
    )  # fmt: skip


def leaderboard_columns(runs: pd.DataFrame) -> list[str]:
    """Columns of an :func:`augment`-ed frame: headline metrics, other plugins' metrics, cost."""
    headline = [f"metric.{h.name}" for h in HEADLINE if present(runs, f"metric.{h.name}")]
    if caption_parent(runs) == "caption_accuracy" and present(runs, "metric.caption_accuracy.exact"):
        headline.insert(0, "metric.caption_accuracy.exact")
    return headline + other_metrics(runs) + cost_columns(runs)


def directions(runs: pd.DataFrame) -> dict[str, bool]:
    """Metric name -> higher is better: metric_info's ``higher_is_better`` over the built-in table."""
    found = {h.name: h.higher_is_better for h in HEADLINE}
    for info in runs.get("metric_info", pd.Series(dtype=object)):
        for name, entry in (info or {}).items():
            if isinstance(entry, dict) and isinstance(entry.get("higher_is_better"), bool):
                found[str(name)] = entry["higher_is_better"]
    return found


def header(column: str, arrows: dict[str, bool] | None = None) -> str:
    """Short header: ``metric.fid`` -> ``FID ↓``, ``cost.train_images_per_s.stage1`` -> ``train img/s (stage1)``."""
    arrows = arrows or {}
    if column == TRAIN:
        return "train img/s"
    if column.startswith(TRAIN + "."):
        return f"train img/s ({column[len(TRAIN) + 1:]})"
    if column == SAMPLE:
        return "sample img/s"
    if column == MEMORY:
        return "peak MB"
    if column.startswith(NORMALISED):
        return f"normalised {attribute_label(column[len(NORMALISED):])}"
    name = column[len("metric."):] if column.startswith("metric.") else column
    if name in CAPTION_ACCURACY_EXACT:
        name = "caption-accuracy.exact"
    text = HEADLINE_BY_NAME[name].header if name in HEADLINE_BY_NAME else name
    if name in arrows:
        text += " ↑" if arrows[name] else " ↓"
    return text


def attribute_label(attribute: str) -> str:
    """``exact.unseen`` -> ``exact (unseen)``."""
    base, _, part = attribute.partition(".")
    return f"{base} ({part})" if part else base


def legend(runs: pd.DataFrame, columns: list[str]) -> str:
    """One line per headline metric shown, with its chance level where one is recorded."""
    parts = []
    for column in columns:
        name = column[len("metric."):]
        name = "caption-accuracy.exact" if name in CAPTION_ACCURACY_EXACT else name
        if name not in HEADLINE_BY_NAME:
            continue
        text = f"{HEADLINE_BY_NAME[name].header}: {HEADLINE_BY_NAME[name].meaning}"
        chance = runs.get(f"{column}.chance")
        if chance is not None and not chance.isna().all():
            text += f" (chance {' / '.join(f'{v:.3g}' for v in pd.unique(chance.dropna()))})"
        parts.append(text)
    costs = {
        TRAIN: "training images per second (per phase where the model trains in phases)",
        SAMPLE: "generated images per second after warm-up",
        MEMORY: "peak memory (CUDA max allocated on GPU, peak resident set of the process on CPU)",
    }
    if any(c == TRAIN or c.startswith(TRAIN + ".") for c in columns):
        parts.append(f"train img/s: {costs[TRAIN]}")
    parts += [f"{header(c)}: {costs[c]}" for c in (SAMPLE, MEMORY) if c in columns]
    return "; ".join(parts) + "." if parts else ""
