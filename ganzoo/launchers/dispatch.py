"""Start a bench's runs with the plan's launcher (worker processes here, or SLURM jobs)."""

from __future__ import annotations

from typing import Any, Callable


def launch(plan, specs: list, record: Callable[[Any, dict], None]) -> None:
    """Run ``specs`` with the plan's launcher; ``record(spec, row)`` is called in plan order."""
    if (getattr(plan, "launcher", "local") or "local") == "slurm":
        from ganzoo.launchers.slurm import run_slurm

        run_slurm(plan, specs, record)
    else:
        from ganzoo.worker import run_workers

        run_workers(plan, specs, record)
