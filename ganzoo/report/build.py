"""Assemble benchmark and ablation reports from a results store and write md + html + figures."""

from __future__ import annotations

import datetime as _dt
import re
import shutil
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ganzoo.report import columns, plots, tables
from ganzoo.report.document import Block, Code, Details, Heading, Image, Paragraph, Table
from ganzoo.report.html import render_html
from ganzoo.report.markdown import render_markdown
from ganzoo.report.reference import FROM_MODEL, NOT_COMPARABLE, reference_for_arms
from ganzoo.report.tables import Arm, arm_label
from ganzoo.store import ResultStore, flatten

def _open(store: ResultStore | str | Path) -> ResultStore:
    return store if isinstance(store, ResultStore) else ResultStore(store, create=False)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _command_blocks(runs: pd.DataFrame, command: str | None, rendered_by: str | None) -> list[Block]:
    commands = [command] if command else [c for c in pd.unique(runs["command"].dropna()) if c]
    blocks: list[Block] = [Heading("How these results were produced")]
    if commands:
        blocks.append(Paragraph("Results produced by:"))
        blocks.append(Code("\n".join(commands)))
    else:
        blocks.append(Paragraph("The command that produced these results was not recorded."))
    if rendered_by:
        blocks += [Paragraph("Report rendered by:"), Code(rendered_by)]
    return blocks


def _environment_blocks(runs: pd.DataFrame, environment: Mapping[str, Any] | None) -> list[Block]:
    if environment:
        frame = pd.DataFrame(
            [{"item": str(k), "value": str(v)} for k, v in flatten(environment).items()]
        )
    else:
        frame = tables.environment_table(runs)
    return [Heading("Environment"), Table(frame)]


def _sample_blocks(runs: pd.DataFrame, out_dir: Path, written: dict[str, Path], store_dir: Path) -> list[Block]:
    """Copy each run's sample grid into figures/samples/ and show it with its row captions."""
    blocks: list[Block] = []
    runs = tables.prepare(runs)
    for row in runs.itertuples():
        entries = row.samples if isinstance(row.samples, list) else [row.samples] if row.samples else []
        label = f"{arm_label(row.model, row.variant)}, seed {row.seed} ({row.status}, run {row.run_id[:8]})"
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or not entry.get("grid"):
                continue
            source = _find_file(Path(entry["grid"]), row.run_dir, store_dir)
            captions = [str(c) for c in entry.get("captions") or []]
            if source is None:
                blocks.append(Paragraph(f"{label}: sample grid `{entry['grid']}` is missing."))
                continue
            name = f"{_slug(row.model)}_{_slug(row.variant or 'base')}_s{row.seed}_{row.run_id[:8]}_{index}.png"
            target = out_dir / "figures" / "samples" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written[f"samples/{row.run_id}/{index}"] = target
            note = "One caption per row, several z per row; rows top to bottom:" if captions else ""
            blocks.append(Image(target, alt=f"samples of {label}", caption=f"{label}. {note}".strip(), lines=captions,
                                pixelated=True))
    if not blocks:
        blocks.append(Paragraph("No sample grids were recorded."))
    return [Heading("Sample grids")] + blocks


def _find_file(path: Path, run_dir: str | None, store_dir: Path) -> Path | None:
    candidates = [path] if path.is_absolute() else [Path(run_dir or ".") / path, store_dir / path, path]
    return next((p for p in candidates if p.is_file()), None)


def _availability_blocks(runs: pd.DataFrame) -> list[Block]:
    blocks: list[Block] = [Heading("Metric availability and provenance")]
    unavailable = tables.unavailable_table(runs)
    if len(unavailable):
        blocks.append(Table(unavailable, "Metrics not computed, and why:"))
    else:
        blocks.append(Paragraph("Every requested metric was computed for every run that finished."))
    provenance = tables.provenance_table(runs)
    if len(provenance):
        blocks.append(Table(provenance, "How each metric was computed:"))
    else:
        blocks.append(Paragraph("No metric provenance was recorded."))
    return blocks


def _appendix_blocks(runs: pd.DataFrame) -> list[Block]:
    frame = tables.all_metrics_table(runs)
    if not len(frame):
        return []
    return [
        Heading("Appendix: all metrics"),
        Paragraph(
            "Every number recorded for the runs that finished ok, by the name it was recorded under: mean ± std "
            "over seeds, n = number of seeds with a value. `throughput.*` is the run's own throughput record "
            "and `run.*` its own resource figures."
        ),
        Table(frame),
    ]


def _failed_blocks(runs: pd.DataFrame) -> list[Block]:
    failed = tables.failed_table(runs)
    blocks: list[Block] = [Heading("Failed and diverged runs, and collapsed ones")]
    if len(failed):
        blocks += [
            Paragraph("These runs are excluded from every mean above. A collapsed run trained to the end, "
                      "but its samples do not vary with z or with the caption; its metrics stay in the store."),
            Table(failed),
        ]
    elif len(runs):
        blocks.append(Paragraph("None: every run finished with status ok."))
    else:
        blocks.append(Paragraph("None (no runs)."))
    return blocks


def _write(blocks: list[Block], out_dir: Path, title: str, written: dict[str, Path]) -> dict[str, Path]:
    document = [Heading(title, 1)] + blocks
    markdown_path = out_dir / "report.md"
    html_path = out_dir / "report.html"
    markdown_path.write_text(render_markdown(document, out_dir), encoding="utf-8")
    html_path.write_text(render_html(document, title), encoding="utf-8")
    return {"markdown": markdown_path, "html": html_path, **written}


def _overview(runs: pd.DataFrame) -> Paragraph:
    counts = runs["status"].fillna("(none)").value_counts()
    status = ", ".join(f"{n} {s}" for s, n in counts.items()) or "none"
    groups = tables.prepare(runs).groupby(tables.GROUP).ngroups if len(runs) else 0
    datasets = tables.joined_unique(runs["dataset"])
    presets = tables.joined_unique(runs["preset"])
    benches = tables.joined_unique(runs["bench_id"])
    return Paragraph(
        f"Generated {_now()}. {len(runs)} runs ({status}) of {groups} model/variant combinations; "
        f"dataset: {datasets}; preset: {presets}; bench id: {benches}."
    )


def _answer_blocks(runs: pd.DataFrame) -> list[Block]:
    return [Paragraph(tables.answer_text(runs), css="answer"), _overview(runs)]


def _headline_leaderboard_blocks(runs: pd.DataFrame) -> list[Block]:
    blocks: list[Block] = [Heading("Leaderboard")]
    if not len(runs):
        return blocks + [Paragraph("The store holds no runs yet.")]
    blocks.append(Table(tables.leaderboard_table(runs)))
    legend = tables.leaderboard_legend(runs)
    notes = ("Mean ± std over the seeds that finished ok (sample std, n−1); one ok seed shows its value alone; "
             "[n=k]: only k of those seeds have the value. Failed, diverged and collapsed runs are excluded from "
             "every mean and listed below. Every other recorded number is in the appendix.")
    blocks.append(Paragraph(f"{legend} {notes}" if legend else notes))
    return blocks


def _caption_chart_blocks(runs: pd.DataFrame, figures: Path, written: dict[str, Path]) -> list[Block]:
    accuracy = tables.caption_accuracy_table(runs)
    if not len(accuracy):
        return []
    blocks: list[Block] = [Heading("Caption accuracy per attribute")]
    chart = plots.caption_accuracy_chart(runs, figures / "caption_accuracy.png")
    if chart:
        written["caption_accuracy_chart"] = chart
        blocks.append(Image(chart, "caption accuracy per attribute",
                            "Share of samples whose attribute the evaluator reads as the caption says; "
                            "the dashed line is chance (guessing uniformly)."))
    label = [arm_label(m, "" if v == "–" else v) for m, v in zip(accuracy["model"], accuracy["variant"])]
    accuracy = pd.concat([pd.DataFrame({"model": label}), accuracy.drop(columns=["model", "variant"])], axis=1)
    blocks.append(Table(accuracy, "Mean ± std over ok seeds; exact = every attribute at once:"))
    return blocks


def _comparison_blocks(runs: pd.DataFrame, out_dir: Path, written: dict[str, Path], store_dir: Path) -> list[Block]:
    """One grid: each model's samples for the same captions and the same z, side by side."""
    import inspect

    from ganzoo.grid import render_grid

    blocks: list[Block] = [Heading("Samples side by side")]
    runs = tables.prepare(runs)
    panels, captions, seeds = [], [], set()
    for (model, variant), group in runs.groupby(tables.GROUP, sort=True):
        group = group.assign(_bad=group["status"] != "ok").sort_values(["_bad", "seed"])
        for row in group.itertuples():
            entry = row.samples[0] if isinstance(row.samples, list) and row.samples else row.samples
            if not isinstance(entry, Mapping) or not entry.get("grid"):
                continue
            source = _find_file(Path(entry["grid"]), row.run_dir, store_dir)
            if source is None:
                continue
            status = "" if row.status == "ok" else f", {row.status}"
            panels.append((f"{arm_label(model, variant)} (seed {row.seed}{status})", source))
            captions.append([str(c) for c in entry.get("captions") or []])
            seeds.add(row.seed)
            break
    if not panels:
        return blocks + [Paragraph("No sample grids were recorded.")]
    width = inspect.signature(render_grid).parameters["caption_width"].default
    chart = plots.comparison_grid(panels, out_dir / "figures" / "comparison.png", width)
    if chart is None:
        return blocks + [Paragraph("No sample grids were recorded.")]
    written["comparison_grid"] = chart
    same = all(c == captions[0] for c in captions) and len(seeds) == 1
    note = ("Same captions and the same z (seed of the run) for every model; models with stages show each "
            "stage left to right (Stage-I beside Stage-II). Rows top to bottom:" if same else
            "The runs shown differ in seed or captions, so their z or captions differ. Rows of the first:")
    blocks.append(Image(chart, "samples of every model side by side", note, lines=captions[0], pixelated=True))
    return blocks


def _compute_blocks(runs: pd.DataFrame, curves: pd.DataFrame, figures: Path, written: dict[str, Path]) -> list[Block]:
    blocks: list[Block] = [Heading("Quality against compute")]
    names = sorted({n[len(plots.EVAL_PREFIX):] for n in curves["name"].unique() if n.startswith(plots.EVAL_PREFIX)}
                   - {"images_seen", "wall_time_s"})
    shown = columns.presentations(runs)
    chosen = [n for n in names if n in shown and shown[n].headline] or [n for n in names if n in shown]
    chosen.sort(key=lambda n: (shown[n].order, n))
    arrows = columns.directions(runs)
    titles = {n: columns.header(f"metric.{n}", arrows, shown) for n in chosen}
    chart = plots.quality_compute_chart(curves, runs, chosen, figures / "quality_vs_compute.png", titles)
    if chart is None:
        return blocks + [Paragraph("Not measured: run the bench with `--eval-every K` (images seen) to measure "
                                   "the cheap metrics at checkpoints during training.")]
    written["quality_compute_chart"] = chart
    blocks.append(Image(chart, "quality against images seen and wall time",
                        "The cheap metrics measured during training on a few hundred samples, against images seen "
                        "(left) and training wall-clock time without the evaluations (right); a line is the mean "
                        "over a model's seeds, the band their range."))
    return blocks


def _loss_blocks(runs: pd.DataFrame, curves: pd.DataFrame, figures: Path, written: dict[str, Path]) -> list[Block]:
    blocks: list[Block] = [Heading("Loss curves")]
    chart = plots.loss_curves_chart(curves, runs, figures / "losses.png")
    if chart is None:
        return blocks + [Paragraph("No losses were recorded.")]
    written["curves_chart"] = chart
    blocks.append(Image(chart, "loss curves per model",
                        "One panel per model, since each model's losses mean different things: each loss against "
                        "training step, the mean over seeds with its range as a band."))
    return blocks


def _throughput_blocks(runs: pd.DataFrame, figures: Path, written: dict[str, Path]) -> list[Block]:
    chart = plots.throughput_chart(runs, figures / "throughput.png")
    if not chart:
        return [Paragraph("No throughput was recorded.")]
    written["throughput_chart"] = chart
    return [Image(chart, "throughput chart", "Training and sampling images per second.")]


def build_report(
    store: ResultStore | str | Path,
    out_dir: str | Path,
    title: str | None = None,
    command: str | None = None,
    environment: Mapping[str, Any] | None = None,
    *,
    rendered_by: str | None = None,
    export: bool = False,
) -> dict[str, Path]:
    """Write report.md, report.html (self-contained) and figures/*.png for a whole store.

    The answer first (which model leads on which headline metric), then the leaderboard,
    caption accuracy per attribute, the models' samples side by side, quality against compute,
    loss curves and the runs that did not end ok; environment, provenance and every other
    number come last, folded. `command` is the command that produced the results (default:
    the ones recorded in the rows); `environment` overrides the device/versions/git table
    built from the rows. With ``export=True`` the store is also written as CSV under
    ``out_dir/data``. Returns the written paths by name.
    """
    store = _open(store)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs, curves = store.runs(), store.curves()
    title = title or "ganzoo benchmark report"
    written: dict[str, Path] = {}
    if export:
        for path in store.export(out_dir / "data"):
            written[f"data/{path.name}"] = path
    figures = out_dir / "figures"

    blocks: list[Block] = _answer_blocks(runs)
    blocks += _headline_leaderboard_blocks(runs)
    blocks += _caption_chart_blocks(runs, figures, written)
    blocks += _comparison_blocks(runs, out_dir, written, store.path.parent)
    blocks += _compute_blocks(runs, curves, figures, written)
    blocks += _loss_blocks(runs, curves, figures, written)
    blocks += _failed_blocks(runs)

    provenance: list[Block] = _command_blocks(runs, command, rendered_by)
    provenance += _environment_blocks(runs, environment)
    if len(runs):
        provenance += [Heading("All runs and their budgets", 3), Table(tables.runs_table(runs))]
    provenance += _availability_blocks(runs)
    provenance += [Heading("Throughput", 3)] + _throughput_blocks(runs, figures, written)
    blocks.append(Details("Environment and provenance", [_demote(b) for b in provenance]))
    samples = _sample_blocks(runs, out_dir, written, store.path.parent)
    blocks.append(Details("Every run's samples", [_demote(b) for b in samples[1:]]))
    appendix = _appendix_blocks(runs)
    normalised = tables.caption_normalised_table(runs)
    if len(normalised):
        appendix += [Paragraph(columns.NORMALISED_SENTENCE),
                     Table(normalised, "Caption accuracy: chance level, then normalised score per attribute:")]
    if appendix:
        blocks.append(Details("Appendix: all metrics", [_demote(b) for b in appendix[1:]]))
    return _write(blocks, out_dir, title, written)


def _demote(block: Block) -> Block:
    """A section's own heading, inside a folded section: one level down."""
    return Heading(block.text, max(block.level, 3)) if isinstance(block, Heading) else block


def _paper_blocks(reference: Mapping[str, Any]) -> list[Block]:
    rows = reference.get("rows")
    if rows is None:  # a plain {configuration: value} mapping
        rows = [{"configuration": k, "value": v} for k, v in reference.items()]
    frame = pd.DataFrame(rows).map(lambda v: f"{v:.2f}" if isinstance(v, float) else str(v))
    note = reference.get("note") or f"{NOT_COMPARABLE}."
    return [
        Heading(reference.get("title", "The paper's own ablation")),
        Paragraph(f"**{note}**"),
        Table(frame),
    ]


def build_ablation_report(
    store: ResultStore | str | Path,
    out_dir: str | Path,
    arm_a: Arm,
    arm_b: Arm,
    command: str | None = None,
    paper_reference: Mapping[str, Any] | str | None = FROM_MODEL,
    *,
    title: str | None = None,
    confidence: float = 0.95,
    rendered_by: str | None = None,
) -> dict[str, Path]:
    """Compare two (model, variant) arms: per metric mean ± std, b - a with a Welch t interval.

    Only runs with status ok enter the statistics; the arms' failed and diverged runs are
    listed. `paper_reference` (default: the reference figures the arms' model plugin declares for
    the key the arms differ in, see :mod:`ganzoo.report.reference`) is printed beside the
    results, marked as not comparable; pass None to leave it out.
    """
    store = _open(store)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arm_a, arm_b = (tuple(arm_a)[0], tuple(arm_a)[1] or ""), (tuple(arm_b)[0], tuple(arm_b)[1] or "")
    runs = tables.prepare(store.runs())
    in_arms = runs[runs[["model", "variant"]].apply(tuple, axis=1).isin([arm_a, arm_b])] if len(runs) else runs
    label_a, label_b = arm_label(*arm_a), arm_label(*arm_b)
    if isinstance(paper_reference, str) and paper_reference == FROM_MODEL:
        paper_reference = reference_for_arms(arm_a, arm_b)
    title = title or f"Ablation: {label_b} vs {label_a}"
    written: dict[str, Path] = {}

    blocks: list[Block] = [_overview(in_arms)]
    blocks += _command_blocks(in_arms, command, rendered_by)
    blocks += _environment_blocks(in_arms, None)

    blocks.append(Heading("Arms"))
    arms = []
    for name, (model, variant) in (("A", arm_a), ("B", arm_b)):
        arm = in_arms[(in_arms["model"] == model) & (in_arms["variant"] == variant)]
        arms.append(
            {
                "arm": name, "model": model, "variant": variant or "–",
                "seeds (ok)": int((arm["status"] == "ok").sum()),
                "failed/diverged": int((arm["status"] != "ok").sum()),
                "seeds (all runs)": ", ".join(str(s) for s in sorted(arm["seed"].dropna().astype(int))) or "–",
                "budget": tables.joined_unique(arm["budget"]),
            }
        )  # fmt: skip
    blocks.append(Table(pd.DataFrame(arms)))
    missing = [a["arm"] for a in arms if a["seeds (ok)"] == 0]
    if missing:
        which = f"Arms {' and '.join(missing)} have" if len(missing) > 1 else f"Arm {missing[0]} has"
        blocks.append(Paragraph(f"{which} no successful run: no comparison is possible."))

    blocks.append(Heading("Results"))
    comparison = tables.ablation_table(in_arms, arm_a, arm_b, confidence)
    if len(comparison):
        blocks.append(
            Paragraph(
                f"Mean ± std over ok seeds per arm; B − A is the difference of means with a {confidence:.0%} "
                "Welch t confidence interval (unequal variances, Welch–Satterthwaite degrees of freedom). "
                "With few seeds the intervals are wide: a CI that contains 0 means no detectable difference."
            )
        )
        blocks.append(Table(comparison))
        if comparison["metric"].str.startswith("normalised ").any():
            note = f"Caption accuracy is compared as normalised scores. {columns.NORMALISED_SENTENCE}"
            blocks.append(Paragraph(note))
        stats = tables.ablation_stats(in_arms, arm_a, arm_b, confidence)
        chart = plots.ablation_chart(in_arms, arm_a, arm_b, list(stats["column"]), out_dir / "figures" / "ablation.png")
        if chart:
            written["ablation_chart"] = chart
            blocks.append(Image(chart, "per-seed values per arm", "Each dot is one seed; bars are arm means."))
    else:
        blocks.append(Paragraph("No metric was recorded for either arm."))

    if paper_reference:
        blocks += _paper_blocks(paper_reference)
    blocks += _failed_blocks(in_arms)
    blocks += _availability_blocks(in_arms)
    blocks += _sample_blocks(in_arms, out_dir, written, store.path.parent)
    blocks += _appendix_blocks(in_arms)
    return _write(blocks, out_dir, title, written)
