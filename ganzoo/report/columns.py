"""Which recorded numbers a report shows where, and under which header.

Metric plugins record flat names: a headline value (``fid``) and its companions
(``kid.std``, ``r-precision.chance``, ``caption-accuracy.shape.normalised``,
``peak-memory.train``). Each metric declares how its values are shown
(:class:`ganzoo.metrics.Presentation`: title, direction, meaning, headline or not) and what
part it plays (:mod:`ganzoo.report.roles`: cost, per-attribute accuracy); the declarations
are recorded with the results, so a report needs no plugin installed. The leaderboard shows
the headline values, in the order the metrics were asked for, then cost (throughput,
memory). A per-attribute accuracy metric (caption accuracy) gets its own chart and table;
the appendix lists every number.

:func:`augment` adds the derived columns those tables read:

* ``cost.*``: training images/s per phase, sampling images/s and peak memory, taken from
  the metrics and, where a run lacks the metric, from the row's own ``throughput`` record
  or ``peak_memory_mb`` (they hold the same numbers, so each appears once).
* ``normalised.<attribute>``: caption accuracy rescaled so chance is 0 and perfect is 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ganzoo.metrics import ROLE_MEMORY_COST, ROLE_SAMPLE_COST, ROLE_TRAIN_COST
from ganzoo.report import roles

GROUP = ["model", "variant"]


@dataclass(frozen=True)
class Headline:
    """A value's presentation as the report uses it (see :class:`ganzoo.metrics.Presentation`)."""

    name: str  # the value's recorded name
    header: str
    higher_is_better: bool | None
    meaning: str
    headline: bool = False
    order: int = 10_000


def _declared_by_plugins() -> dict[str, Headline]:
    """Value name -> presentation, as the installed metric plugins declare it (registry order)."""
    try:
        from ganzoo.registry import get_registry

        entries = list(get_registry().entries["metric"].values())
    except Exception:  # a report must build without plugins
        return {}
    found: dict[str, Headline] = {}
    for index, entry in enumerate(entries):
        for i, (value, p) in enumerate((getattr(entry.obj, "presentation", None) or {}).items()):
            fields = p.to_json() if hasattr(p, "to_json") else dict(p)
            found[str(value)] = _headline(str(value), {**fields, "order": 1_000_000 + index * 100 + i})
    return found


def _headline(name: str, fields: dict) -> Headline:
    higher = fields.get("higher_is_better")
    return Headline(name, str(fields.get("title") or name), higher if isinstance(higher, bool) else None,
                    str(fields.get("meaning") or ""), bool(fields.get("headline")), int(fields.get("order", 10_000)))


def presentations(runs: pd.DataFrame | None = None) -> dict[str, Headline]:
    """Value name -> how it is shown: what the rows recorded (``metric_info[m]["presentation"]``), over
    what the installed plugins declare. A row's recorded ``higher_is_better`` also sets the arrow."""
    found = _declared_by_plugins()
    infos = runs.get("metric_info", pd.Series(dtype=object)) if runs is not None else []
    for info in infos:
        for metric, entry in (info or {}).items() if isinstance(info, dict) else ():
            if not isinstance(entry, dict):
                continue
            for value, fields in (entry.get("presentation") or {}).items():
                if isinstance(fields, dict):
                    order = min(int(fields.get("order", 10_000)), found[value].order) if value in found else None
                    found[str(value)] = _headline(str(value), {**fields, **({"order": order} if order is not None
                                                                            else {})})
            if isinstance(entry.get("higher_is_better"), bool):
                old = found.get(str(metric)) or Headline(str(metric), str(metric), None, "")
                found[str(metric)] = Headline(old.name, old.header, entry["higher_is_better"], old.meaning,
                                              old.headline, old.order)
    return found


class _DeclaredHeadlines(Mapping):
    """Read-only ``{value name: Headline}`` of the installed plugins' declarations (kept for callers of
    the old ``HEADLINE_BY_NAME`` table; prefer :func:`presentations`)."""

    def __getitem__(self, name: str) -> Headline:
        return _declared_by_plugins()[name]

    def __iter__(self):
        return iter(_declared_by_plugins())

    def __len__(self) -> int:
        return len(_declared_by_plugins())


HEADLINE_BY_NAME: Mapping[str, Headline] = _DeclaredHeadlines()

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
    """The recorded name of the per-attribute accuracy metric (caption accuracy), if any run has it."""
    found = roles.attribute_metric(runs)
    return found[0] if found else None


def caption_attributes(runs: pd.DataFrame) -> list[str]:
    """Attributes with a recorded accuracy: in the order the metric declares, then undeclared ones
    (sorted); declared parts of an attribute (``exact.unseen``) last."""
    found = roles.attribute_metric(runs)
    if found is None:
        return []
    parent, declared = found
    prefix = f"metric.{parent}."
    names = [c[len(prefix):] for c in runs.columns if c.startswith(prefix) and present(runs, c)]
    # an undeclared attribute is one with a chance level (summaries such as a mean have none)
    undeclared = sorted(n for n in names
                        if n not in declared and "." not in n and f"{prefix}{n}.chance" in runs.columns)
    ordered = [a for a in declared if a in names] + undeclared
    return [a for a in ordered if "." not in a] + [a for a in ordered if "." in a]


def accuracy_column(runs: pd.DataFrame, attribute: str) -> str:
    return f"metric.{caption_parent(runs)}.{attribute}"


def chance_column(runs: pd.DataFrame, attribute: str) -> str:
    """A part of an attribute (seen/unseen exact match) is judged against the chance level of the whole."""
    base = attribute.split(".")[0]
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
    metrics = [f"metric.{m}." for m in roles.metrics_with_role(runs, ROLE_TRAIN_COST)]
    for prefix in metrics + ["throughput.train_images_per_s."]:
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


def _role_columns(runs: pd.DataFrame, role: str) -> list[str]:
    return [f"metric.{m}" for m in roles.metrics_with_role(runs, role)]


def augment(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``runs`` (model/variant as strings) with the derived cost and normalised columns."""
    runs = runs.copy()
    for name in GROUP:
        runs[name] = runs[name].fillna("").astype(str) if name in runs.columns else ""
    derived = {}
    for phase, sources in sorted(_train_sources(runs).items()):
        derived[f"{TRAIN}.{phase}" if phase else TRAIN] = _first_present(runs, sources)
    derived[SAMPLE] = _first_present(runs, _role_columns(runs, ROLE_SAMPLE_COST) + ["throughput.sample_images_per_s"])
    derived[MEMORY] = _first_present(runs, _role_columns(runs, ROLE_MEMORY_COST) + ["peak_memory_mb"])
    for attribute in caption_attributes(runs):
        derived[NORMALISED + attribute] = _normalised_series(runs, attribute)
    kept = runs.drop(columns=[c for c in derived if c in runs.columns])
    return pd.concat([kept, pd.DataFrame(derived, index=runs.index)], axis=1)


def cost_columns(runs: pd.DataFrame) -> list[str]:
    """Training phases (whole phase first), sampling, memory; those with a value in some run."""
    train = sorted((c for c in runs.columns if c == TRAIN or c.startswith(TRAIN + ".")), key=lambda c: (c != TRAIN, c))
    return [c for c in train + [SAMPLE, MEMORY] if present(runs, c)]


# -- the leaderboard ---------------------------------------------------------------------------


def metric_values(runs: pd.DataFrame) -> list[str]:
    """Recorded metric value names with a number in some run (``fid``, ``kid.std``, ...)."""
    return [c[len("metric."):] for c in runs.columns if c.startswith("metric.") and present(runs, c)]


def headline_metrics(runs: pd.DataFrame) -> list[str]:
    """``metric.*`` columns of values their metric declares headline, in the order the metrics were asked for."""
    shown = presentations(runs)
    names = [n for n in metric_values(runs) if n in shown and shown[n].headline]
    return [f"metric.{n}" for n in sorted(names, key=lambda n: (shown[n].order, n))]


def declared_metrics(runs: pd.DataFrame) -> list[str]:
    """``metric.*`` columns of every value with a declared presentation and direction (headline first)."""
    shown = presentations(runs)
    names = [n for n in metric_values(runs) if n in shown and shown[n].higher_is_better is not None]
    cost_metrics = roles.cost_metrics(runs)
    cost = {n for n in names if n.split(".")[0] in cost_metrics}
    return [f"metric.{n}" for n in sorted(set(names) - cost, key=lambda n: (not shown[n].headline, shown[n].order, n))]


def leaderboard_columns(runs: pd.DataFrame) -> list[str]:
    """Columns of an :func:`augment`-ed frame: the declared headline metrics, then cost."""
    return headline_metrics(runs) + cost_columns(runs)


def directions(runs: pd.DataFrame) -> dict[str, bool]:
    """Value name -> higher is better, as declared (or recorded in ``metric_info``)."""
    return {n: h.higher_is_better for n, h in presentations(runs).items() if h.higher_is_better is not None}


def header(column: str, arrows: dict[str, bool] | None = None, titles: Mapping[str, Headline] | None = None) -> str:
    """Short header: ``metric.fid`` -> ``FID ↓``, ``cost.train_images_per_s.stage1`` -> ``train img/s (stage1)``.

    The title is the metric's declared one (``titles``, default: the installed plugins'); the
    arrow comes from ``arrows`` (default: the declared direction)."""
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
    titles = _declared_by_plugins() if titles is None else titles
    name = column[len("metric."):] if column.startswith("metric.") else column
    text = titles[name].header if name in titles else name
    if arrows is None:
        arrows = {n: h.higher_is_better for n, h in titles.items() if h.higher_is_better is not None}
    if name in arrows:
        text += " ↑" if arrows[name] else " ↓"
    return text


def attribute_label(attribute: str) -> str:
    """``exact.unseen`` -> ``exact (unseen)``."""
    base, _, part = attribute.partition(".")
    return f"{base} ({part})" if part else base


def legend(runs: pd.DataFrame, columns: list[str]) -> str:
    """One line per metric shown (its declared meaning), with its chance level where one is recorded."""
    shown = presentations(runs)
    parts = []
    for column in columns:
        name = column[len("metric."):]
        if not column.startswith("metric.") or name not in shown or not shown[name].meaning:
            continue
        text = f"{shown[name].header}: {shown[name].meaning}"
        chance = runs.get(f"{column}.chance")
        if chance is not None and not chance.isna().all():
            text += f" (chance {' / '.join(f'{v:.3g}' for v in pd.unique(chance.dropna()))})"
        parts.append(text)
    costs = {
        TRAIN: "training images per second (per phase where the model trains in phases)",
        SAMPLE: "generated images per second after warm-up",
        MEMORY: "peak memory (CUDA max allocated on GPU, peak anonymous resident memory of the run's process on CPU)",
    }
    if any(c == TRAIN or c.startswith(TRAIN + ".") for c in columns):
        parts.append(f"train img/s: {costs[TRAIN]}")
    parts += [f"{header(c)}: {costs[c]}" for c in (SAMPLE, MEMORY) if c in columns]
    return "; ".join(parts) + "." if parts else ""
