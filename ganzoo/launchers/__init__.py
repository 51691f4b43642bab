"""Ways of starting a bench's runs: the same worker (``python -m ganzoo worker RUN_DIR``) each time.

* ``local`` (the default): worker processes on this machine, ``--jobs`` at once
  (:func:`ganzoo.worker.run_workers`).
* ``slurm``: one SLURM job per run, submitted as a job array through submitit
  (:mod:`ganzoo.launchers.slurm`); the bench process waits for them and records their rows.

Either can be combined with ``--shard I/N`` (:mod:`ganzoo.launchers.shards`): only the I-th of N
slices of the grid runs, and ``ganzoo report DIR`` gathers the shards into one store.

This module imports nothing heavy: submitit jobs unpickle their function from
:mod:`ganzoo.launchers.slurm`, which imports this package.
"""

from __future__ import annotations

from typing import Any, Callable

LAUNCHERS = ("local", "slurm")
INSTALL_HINT = "pip install 'ganzoo[slurm]'"


def require_submitit():
    """The submitit module, or a one-line usage error (exit 2) saying how to install it."""
    from ganzoo.errors import UsageError

    try:
        import submitit
    except ImportError:
        raise UsageError(f"--launcher slurm needs submitit, which is not installed: {INSTALL_HINT}") from None
    return submitit


def check_launcher(plan) -> None:
    """The launcher part of :func:`ganzoo.bench.validate_plan`: checks only, writes nothing."""
    from ganzoo.errors import UsageError

    launcher = getattr(plan, "launcher", "local") or "local"
    if launcher not in LAUNCHERS:
        raise UsageError(f"unknown --launcher {launcher!r}; valid: {', '.join(LAUNCHERS)}")
    shard = getattr(plan, "shard", None)
    if shard is not None:
        from ganzoo.launchers.shards import check_shard

        check_shard(shard, len(plan.specs))
    if launcher == "slurm":
        from ganzoo.launchers.slurm import check_slurm_plan

        require_submitit()
        check_slurm_plan(plan)


def launch(plan, specs: list, record: Callable[[Any, dict], None]) -> None:
    """Run ``specs`` with the plan's launcher; ``record(spec, row)`` is called in plan order."""
    if (getattr(plan, "launcher", "local") or "local") == "slurm":
        from ganzoo.launchers.slurm import run_slurm

        run_slurm(plan, specs, record)
    else:
        from ganzoo.worker import run_workers

        run_workers(plan, specs, record)
