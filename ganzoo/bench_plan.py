"""A bench's plan (:class:`BenchPlan`) and the names its runs and rows go by.

Shared by the bench, its workers and its launchers, so it imports none of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ganzoo.errors import GanzooError
from ganzoo.runs import RunSpec, command_line


@dataclass
class BenchPlan:
    bench_id: str
    out: Path
    specs: list[RunSpec]
    preset: dict[str, Any]
    device: str
    eval_split: str = "test"
    inception_weights: Path | None = None
    progress: bool = True
    resume: bool = False
    command: str = field(default_factory=command_line)
    jobs: int = 1  # worker processes at once
    run_timeout: float | None = None  # seconds per run; a worker past it is killed and recorded as failed
    run_memory_mb: float | None = None  # memory (MB of data segment) per run; allocations past it fail the run
    threads: int | None = None  # torch threads per worker (default: the cores shared out among the jobs)
    isolate: bool = True  # each run in its own worker process (False: in this process, as under torchrun)
    git_rev: str | None = None  # the source revision, looked up once per bench
    launcher: str = "local"  # local: worker processes here; slurm: one SLURM job per run (ganzoo.launchers)
    slurm: Any = None  # ganzoo.launchers.slurm.SlurmOptions (partition, time, GPUs per run, ...) for --launcher slurm
    shard: tuple[int, int] | None = None  # --shard I/N: only runs i with i % N == I; `ganzoo report` gathers


def store_key(plan: BenchPlan, spec: RunSpec) -> tuple[str, str, str, int]:
    """The (bench_id, model, variant, seed) a run's row carries in the store (paths made portable)."""
    from ganzoo.store import portable_text

    return (plan.bench_id, spec.model, portable_text(spec.variant(), plan.out), spec.seed)


def run_key(spec: RunSpec) -> str:
    variant = spec.variant().replace("=", "-").replace(",", "_")
    return f"{spec.model}{'-' + variant if variant else ''}-s{spec.seed}"


class RunsNotOkError(GanzooError):
    """Some runs failed, diverged or collapsed: the report is written, the exit status says so (1)."""

    exit_code = 1


def curve_points(run_dir: Path) -> list[tuple[int, str, float]]:
    log = run_dir / "log.jsonl"
    points = []
    if log.exists():
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            step = int(rec.pop("step"))
            rec.pop("epoch", None)
            points += [(step, k, float(v)) for k, v in rec.items()]
    return points


def echo_row(row: dict) -> None:
    m = row.get("metrics") or {}
    shown = {k: v for k, v in m.items() if isinstance(v, (int, float)) and "." not in k}
    brief = ", ".join(f"{k}={v:.3g}" for k, v in list(shown.items())[:6])
    click.echo(f"[{row['status']}] {row['model']}{'[' + row['variant'] + ']' if row['variant'] else ''} "
               f"seed {row['seed']}: {brief}{' - ' + row['reason'] if row.get('reason') else ''}")
