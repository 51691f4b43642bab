"""The report of a tuned ablation: the tuning table first, then best against best with CIs.

Arm A is the first value of the ablated key; every other arm is compared with it
(difference of means with a Welch t interval). Reference figures (e.g. a paper's own
ablation) come from the model plugin's ``reference_ablations`` and are printed beside the
results, marked as not comparable.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ganzoo.report import columns, plots, tables
from ganzoo.report.build import (_appendix_blocks, _availability_blocks, _command_blocks, _environment_blocks,
                                 _comparison_blocks, _failed_blocks, _open, _overview, _paper_blocks, _sample_blocks,
                                 _write)
from ganzoo.report.document import Block, Heading, Image, Paragraph, Table
from ganzoo.report.reference import reference_for
from ganzoo.report.stats import decimals_for, format_interval, format_number, t_quantile

Arm = tuple[str, str]


def _tuning_blocks(table: list[dict], ablation) -> list[Block]:
    blocks: list[Block] = [Heading("Tuning (same grid, seed and budget for every arm)")]
    if not table:
        blocks.append(Paragraph("No tuning grid was declared: every arm ran with the shared settings."))
        return blocks
    budget = ", ".join(f"{k}={v}" for k, v in ablation.tune_budget.items()) or "the final budget"
    blocks.append(Paragraph(
        f"Each arm ran every setting of the grid {dict(ablation.tune)} once (seed {ablation.tune_seed}, "
        f"{budget}), scored on the `{ablation.tune_split}` split (neither train nor test) by "
        f"`{ablation.criterion}`. A failed, diverged or collapsed run scores worst. The chosen setting "
        "of each arm then ran with every seed on the test split."))
    frame = pd.DataFrame(table)
    frame[ablation.criterion] = [format_number(v, 3) if isinstance(v, float) and math.isfinite(v) else "–"
                                 for v in frame[ablation.criterion]]
    frame["chosen"] = ["✔" if c else "" for c in frame.get("chosen", [False] * len(frame))]
    blocks.append(Table(frame))
    dead = [arm for arm, group in frame.groupby("arm") if (group["status"] != "ok").all()]
    for arm in dead:
        blocks.append(Paragraph(f"**No setting in the grid of arm {arm} lived**: its best-against-best runs "
                                "below use the first setting, and the comparison says nothing about the idea."))
    return blocks


def _arm_interval_table(runs: pd.DataFrame, arms: list[Arm], labels: list[str], metrics: list[str],
                        confidence: float) -> pd.DataFrame:
    """Per arm and metric: mean and its t confidence interval over the ok seeds."""
    arrows = columns.directions(runs)
    rows = []
    for column in metrics:
        entry = {"metric": columns.header(column, arrows)}
        for (model, variant), label in zip(arms, labels):
            values = runs[(runs["model"] == model) & (runs["variant"] == variant) & (runs["status"] == "ok")]
            values = pd.to_numeric(values.get(column, pd.Series(dtype=float)), errors="coerce").dropna()
            n = len(values)
            if n == 0:
                entry[label] = "–"
                continue
            mean = float(values.mean())
            if n > 1:
                half = t_quantile(0.5 + confidence / 2, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
                places = max(2, min(5, decimals_for(half, significant=3)))  # 3 places when half is 0
                entry[label] = f"{format_number(mean, places)} {format_interval(mean - half, mean + half, places)} (n={n})"
            else:
                entry[label] = f"{mean:.3f} (n=1)"
        rows.append(entry)
    return pd.DataFrame(rows)


def build_tuned_ablation_report(store, out_dir: str | Path, arms: list[Arm], labels: list[str], tuning: list[dict],
                                ablation, command: str | None = None, confidence: float = 0.95) -> dict[str, Path]:
    store = _open(store)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = tables.prepare(store.runs())
    keys = set(arms)
    in_arms = runs[runs[["model", "variant"]].apply(tuple, axis=1).isin(keys)] if len(runs) else runs
    title = f"Ablation of {ablation.key} in {ablation.base.model}: " + " vs ".join(labels)
    written: dict[str, Path] = {}
    blocks: list[Block] = [_overview(in_arms)]
    blocks += _tuning_blocks(tuning, ablation)

    blocks.append(Heading("Best against best (test split)"))
    arm_rows = []
    for (model, variant), label in zip(arms, labels):
        arm = in_arms[(in_arms["model"] == model) & (in_arms["variant"] == variant)]
        arm_rows.append({"arm": label, "variant run": variant or "–",
                         "seeds ok": int((arm["status"] == "ok").sum()),
                         "not ok": ", ".join(f"s{int(r.seed)} {r.status}" for r in arm.itertuples()
                                             if r.status != "ok") or "–",
                         "budget": tables.joined_unique(arm["budget"])})
    blocks.append(Table(pd.DataFrame(arm_rows)))
    metrics: list[str] = []
    for other in arms[1:]:
        stats = tables.ablation_stats(in_arms, arms[0], other, confidence) if len(in_arms) else pd.DataFrame()
        metrics += [c for c in stats.get("column", []) if c not in metrics]
    if metrics:
        blocks.append(Paragraph(f"Mean over the ok seeds of each arm with its {confidence:.0%} t interval "
                                f"[low, high]. {columns.NORMALISED_SENTENCE}"))
        blocks.append(Table(_arm_interval_table(columns.augment(in_arms), arms, labels, metrics, confidence)))
        for other, other_label in zip(arms[1:], labels[1:]):
            blocks.append(Heading(f"{other_label} − {labels[0]}", 3))
            blocks.append(Paragraph(
                f"Difference of means (B − A) with a {confidence:.0%} Welch t interval; an interval that "
                "contains 0 shows no detectable difference at these seeds."))
            blocks.append(Table(tables.ablation_table(in_arms, arms[0], other, confidence)))
            chart = plots.ablation_chart(in_arms, arms[0], other, metrics[:8],
                                         out_dir / "figures" / f"ablation_{len(written)}.png")
            if chart:
                written[f"chart_{len(written)}"] = chart
                blocks.append(Image(chart, "per-seed values per arm", "Each dot is one seed; bars are arm means."))
    else:
        blocks.append(Paragraph("No metric was recorded for the arms: no comparison is possible."))
    reference = reference_for(ablation.base.model, ablation.key)
    if reference:
        blocks += _paper_blocks(reference)
    blocks += _failed_blocks(in_arms)
    # one figure with every arm's samples for the same captions and z (the first ok seed of each arm;
    # arms with stages show Stage-I beside Stage-II), then each run's own grid
    blocks += _comparison_blocks(in_arms, out_dir, written, store.path.parent)
    blocks += _sample_blocks(in_arms, out_dir, written, store.path.parent)
    blocks += _command_blocks(in_arms, command, None)
    blocks += _environment_blocks(in_arms, None)
    blocks += _availability_blocks(in_arms)
    blocks += _appendix_blocks(in_arms)
    return _write(blocks, out_dir, title, written)
