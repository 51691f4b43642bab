"""`ganzoo ablate`: one model, one config key, any number of arms, each tuned the same way.

The protocol, identical for every arm (``ganzoo ablate stackgan ca=true,false``):

1. **Tuning.** Every setting of the declared grid (``--tune kl_weight=0.1,0.5,2 --tune
   lr_g=2e-4,1e-3``: their cartesian product) runs once per arm, with the tuning seed and
   the tuning budget, and is scored on the ``val`` split (neither train nor test) by the
   declared criterion. A failed, diverged or collapsed tuning run scores worst.
2. **Best against best.** Each arm's best setting runs with every seed (at least 3 for a
   confidence interval) and is measured on the ``test`` split.
3. **Report.** The whole tuning table, then best against best: per metric mean ± std per
   arm and the difference to the first arm with a 95% Welch interval.

Arms that produce different output sizes (``stage=1,2`` of a two-stage model) are compared
at one resolution: every arm's samples are upsampled (bilinear) to the largest output
size before any metric sees them (``eval_image_size`` of the bench settings).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from ganzoo.bench import BenchPlan, run_bench
from ganzoo.errors import UsageError
from ganzoo.run_settings import run_default
from ganzoo.runs import RunSpec

TUNE_SEED = run_default("ablate_tune_seed")  # not one of the usual final seeds: selection never sees a test-seed run


def parse_values(text: str, what: str) -> tuple[str, list[str]]:
    """``key=v1,v2,...`` -> (key, [v1, v2, ...]); values stay strings (the config types them)."""
    if "=" not in text:
        raise UsageError(f"{what} must look like KEY=VALUE1,VALUE2 (e.g. ca=true,false), got {text!r}")
    key, _, values = text.partition("=")
    key, items = key.strip(), [v.strip() for v in values.split(",") if v.strip()]
    if not key or not items:
        raise UsageError(f"{what} must look like KEY=VALUE1,VALUE2 (e.g. ca=true,false), got {text!r}")
    if len(set(items)) != len(items):
        raise UsageError(f"{what} {text!r} repeats a value")
    return key, items


@dataclass
class AblationPlan:
    """Everything an ablation will run, fixed before the first run starts."""

    base: RunSpec                     # model, preset, shared overrides, final budget
    key: str                          # the ablated config key
    values: list[str]                 # one arm per value; the first is the reference arm A
    seeds: list[int]
    tune: dict[str, list[str]] = field(default_factory=dict)
    tune_seed: int = TUNE_SEED
    tune_budget: dict[str, Any] = field(default_factory=dict)  # RunSpec budget fields for tuning runs
    criterion: str = field(default_factory=lambda: run_default("ablate_criterion"))  # a bench preset may override
    tune_split: str = "val"

    def check(self) -> None:
        if len(self.values) < 2:
            raise UsageError(f"an ablation needs at least two arms: give {self.key}=A,B")
        if self.key in self.base.overrides:
            raise UsageError(f"--set {self.key}=... conflicts with the ablated key {self.key!r}; drop it")
        for k in self.tune:
            if k == self.key:
                raise UsageError(f"--tune {k}=... tunes the ablated key itself; tune other keys")
            if k in self.base.overrides:
                raise UsageError(f"--tune {k}=... conflicts with --set {k}=...; drop one")

    def grid(self) -> list[dict[str, str]]:
        """The tuning settings, in a fixed order (an empty setting when nothing is tuned)."""
        keys = list(self.tune)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.tune[k] for k in keys))]

    def arm_overrides(self, value: str, setting: dict[str, str] | None = None) -> dict[str, Any]:
        return {**self.base.overrides, **(setting or {}), self.key: value}

    def tuning_specs(self) -> list[RunSpec]:
        specs = []
        for value in self.values:
            for setting in self.grid():
                spec = replace(self.base, overrides=self.arm_overrides(value, setting), seed=self.tune_seed)
                for k, v in self.tune_budget.items():
                    setattr(spec, k, v)
                specs.append(spec)
        return specs

    def final_specs(self, best: dict[str, dict[str, str]]) -> list[RunSpec]:
        return [replace(self.base, overrides=self.arm_overrides(v, best[v]), seed=s)
                for v in self.values for s in self.seeds]

    def all_specs(self) -> list[RunSpec]:
        """Every spec the ablation may run (tuning runs, and each arm with each possible best)."""
        finals = [replace(self.base, overrides=self.arm_overrides(v, g), seed=s)
                  for v in self.values for g in self.grid() for s in self.seeds[:1]]
        return self.tuning_specs() + finals


def output_sizes(specs: list[RunSpec]) -> set[int]:
    """The final output size of each spec's model (built on the meta device: no weights, no time)."""
    from ganzoo.harness import resolve_model_config

    sizes = set()
    for spec in specs:
        model_cls, config = resolve_model_config(spec)
        model = model_cls(config, text_dim=8, device="meta")
        sizes.add(int(model.image_size))
    return sizes


def score(row: dict[str, Any], criterion: str, higher_is_better: bool) -> float:
    """The criterion of a tuning row; -inf (or +inf) for a run that failed, diverged or collapsed."""
    worst = -math.inf if higher_is_better else math.inf
    if row.get("status") != "ok":
        return worst
    value = row.get(f"metric.{criterion}")
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else worst


def criterion_direction(criterion: str, rows: list[dict[str, Any]]) -> bool:
    """Higher is better? From the metric's own info, else the report's table, else True."""
    from ganzoo.report.columns import HEADLINE_BY_NAME

    for row in rows:
        entry = (row.get("metric_info") or {}).get(criterion)
        if isinstance(entry, dict) and isinstance(entry.get("higher_is_better"), bool):
            return entry["higher_is_better"]
    head = HEADLINE_BY_NAME.get(criterion)
    return head.higher_is_better if head else True


def choose_best(plan: AblationPlan, rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, str]], list[dict]]:
    """Each arm's best tuning setting, and the tuning table (one entry per run, in grid order)."""
    higher = criterion_direction(plan.criterion, rows)
    table, best = [], {}
    for value in plan.values:
        best_score, best_setting = None, None
        for setting in plan.grid():
            overrides = plan.arm_overrides(value, setting)
            row = next((r for r in rows if r.get("overrides") == _canon(overrides)), None)
            s = score(row or {}, plan.criterion, higher)
            entry = {"arm": f"{plan.key}={value}", **setting, "status": (row or {}).get("status", "missing"),
                     plan.criterion: s if math.isfinite(s) else None, "reason": (row or {}).get("reason") or ""}
            table.append(entry)
            if best_score is None or (s > best_score if higher else s < best_score):
                best_score, best_setting = s, setting
        best[value] = best_setting or {}
        for entry in table:
            if entry["arm"] == f"{plan.key}={value}":
                entry["chosen"] = all(entry.get(k) == v for k, v in best[value].items())
    return best, table


def _canon(overrides: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in sorted(overrides.items())}


def run_ablation(ablation: AblationPlan, bench: BenchPlan) -> dict[str, Any]:
    """Tune every arm, run best against best, write the report. ``bench`` carries out, device, settings."""
    from ganzoo.report.ablation import build_tuned_ablation_report
    from ganzoo.store import ResultStore

    ablation.check()
    settings = dict(bench.preset)
    always = settings.get("ablate_metrics", run_default("ablate_metrics"))  # e.g. diversity, smoothness
    settings["metrics"] = list(dict.fromkeys(list(settings["metrics"]) + list(always)))
    sizes = output_sizes(ablation.all_specs())
    if len(sizes) > 1:
        settings["eval_image_size"] = max(sizes)
    out = Path(bench.out)
    out.mkdir(parents=True, exist_ok=True)
    tuning_rows: list[dict[str, Any]] = []
    if ablation.tune:
        click.echo(f"tuning: {len(ablation.grid())} setting(s) x {len(ablation.values)} arm(s) on the "
                   f"{ablation.tune_split} split, criterion {ablation.criterion}")
        # tuning needs each run's final score only: no in-training measurements
        tune_plan = replace(bench, bench_id=f"{bench.bench_id}-tune", out=out / "tune", specs=ablation.tuning_specs(),
                            preset={**settings, "eval_every": 0}, eval_split=ablation.tune_split)
        run_bench(tune_plan)
        tuning_rows = _rows(ResultStore(out / "tune" / "results.sqlite"))
    best, table = choose_best(ablation, tuning_rows) if ablation.tune else (
        {v: {} for v in ablation.values}, [])
    (out / "tuning.json").write_text(json.dumps({"criterion": ablation.criterion, "split": ablation.tune_split,
                                                  "seed": ablation.tune_seed, "grid": ablation.tune,
                                                  "best": best, "runs": table}, indent=1))
    final_plan = replace(bench, specs=ablation.final_specs(best), preset=settings, eval_split="test")
    written = run_bench(final_plan)
    store = ResultStore(out / "results.sqlite")
    arms = [(ablation.base.model, replace(ablation.base, overrides=ablation.arm_overrides(v, best[v])).variant())
            for v in ablation.values]
    labels = [f"{ablation.key}={v}" for v in ablation.values]
    from ganzoo.store import portable_text

    report = build_tuned_ablation_report(store, out / "ablation", arms, labels, table, ablation,
                                         command=portable_text(bench.command, out))
    plans = ([tune_plan] if ablation.tune else []) + [final_plan]
    return {"bench": written, "ablation": report, "best": best, "plans": plans}


def _rows(store) -> list[dict[str, Any]]:
    """Tuning rows as dicts (flattened ``metric.*`` columns) with the overrides their variant names."""
    rows = []
    for r in store.runs().to_dict("records"):
        variant = r.get("variant") or ""
        overrides = dict(item.split("=", 1) for item in variant.split(",") if "=" in item)
        rows.append({**r, "overrides": _canon(overrides)})
    return rows
