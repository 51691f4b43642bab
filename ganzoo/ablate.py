"""`ganzoo ablate`: one model with and without a switch over several seeds, and the report.

An ablation is a bench with two arms that differ in one config key (``ca``: Conditioning
Augmentation on/off). Besides the bench metrics, each run gets ``diversity`` (spread of
evaluator features over z for a fixed caption) and ``smoothness`` (how evenly images
change along an interpolation between two captions).
"""

from __future__ import annotations

from pathlib import Path

from ganzoo.bench import BenchPlan, run_bench
from ganzoo.errors import UsageError
from ganzoo.runs import RunSpec

#: switch name -> (config key, value of arm A, value of arm B)
SWITCHES = {"ca": ("ca", "true", "false")}
ABLATION_METRICS = ["diversity", "smoothness"]


def ablation_specs(switch: str, base: RunSpec, seeds: list[int]) -> tuple[list[RunSpec], tuple, tuple]:
    if switch not in SWITCHES:
        from ganzoo.errors import UnknownNameError

        raise UnknownNameError("ablation", switch, SWITCHES)
    key, a, b = SWITCHES[switch]
    if key in base.overrides:
        raise UsageError(f"--set {key}=... conflicts with the ablation of {key!r}; drop it")
    specs = []
    for value in (a, b):
        for seed in seeds:
            overrides = dict(base.overrides)
            overrides[key] = value
            spec = RunSpec(**{**base.to_json(), "overrides": overrides, "seed": seed})
            specs.append(spec)
    variant_a = RunSpec(model=base.model, overrides={**base.overrides, key: a}).variant()
    variant_b = RunSpec(model=base.model, overrides={**base.overrides, key: b}).variant()
    return specs, (base.model, variant_a), (base.model, variant_b)


def run_ablation(plan: BenchPlan, arm_a: tuple, arm_b: tuple) -> dict:
    from ganzoo.report import build_ablation_report
    from ganzoo.store import ResultStore

    plan.preset = dict(plan.preset)
    plan.preset["metrics"] = list(dict.fromkeys(list(plan.preset["metrics"]) + ABLATION_METRICS))
    written = run_bench(plan)
    store = ResultStore(Path(plan.out) / "results.sqlite")
    written_ab = build_ablation_report(store, Path(plan.out) / "ablation", arm_a, arm_b, command=plan.command)
    return {"bench": written, "ablation": written_ab}
