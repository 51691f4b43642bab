"""Ways of starting a bench's runs: the same worker (``python -m ganzoo worker RUN_DIR``) each time.

* ``local`` (the default): worker processes on this machine, ``--jobs`` at once
  (:func:`ganzoo.worker.run_workers`).
* ``slurm``: one SLURM job per run, submitted as a job array through submitit
  (:mod:`ganzoo.launchers.slurm`); the bench process waits for them and records their rows.

Either can be combined with ``--shard I/N`` (:mod:`ganzoo.launchers.shards`): only the I-th of N
slices of the grid runs, and ``ganzoo report DIR`` gathers the shards into one store.

This module imports nothing heavy: submitit jobs unpickle their function from
:mod:`ganzoo.launchers.slurm`. Starting the runs is :func:`ganzoo.launchers.dispatch.launch`.
"""

from __future__ import annotations

LAUNCHERS = ("local", "slurm")


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
        from ganzoo.launchers.slurm import check_slurm_plan, require_submitit

        require_submitit()
        check_slurm_plan(plan)
