"""The command-line options of the launchers, shared by ``ganzoo bench`` and ``ganzoo ablate``.

Use::

    @launcher_options            # or @slurm_options: the same without --shard
    def command(..., **launch):
        fields = launcher_fields(**launch)
        device = resolve_launcher_device(device, fields)
        plan = BenchPlan(..., device=device, **fields)
"""

from __future__ import annotations

from typing import Any

import click

from ganzoo.launchers import LAUNCHERS

_OPTIONS = [
    click.option("--launcher", type=click.Choice(LAUNCHERS), default="local", show_default=True,
                 help="Where runs go: worker processes on this machine, or one SLURM job per run (submitit; "
                      "pip install 'ganzoo[slurm]')."),
    click.option("--slurm-partition", default=None, help="SLURM partition of the jobs (--launcher slurm)."),
    click.option("--slurm-time", default=None, metavar="LIMIT",
                 help="Time limit per job: minutes, HH:MM:SS, D-HH:MM:SS, 4h, 2d (default 24:00:00)."),
    click.option("--gpus-per-run", type=int, default=None,
                 help="GPUs per run's job (default 1; 0: CPU jobs); above 1 the run trains under torchrun in its job."),
    click.option("--slurm-qos", default=None, help="SLURM quality of service of the jobs."),
    click.option("--slurm-account", default=None, help="SLURM account charged for the jobs."),
    click.option("--slurm-param", "slurm_params", multiple=True, metavar="KEY=VALUE",
                 help="Any other sbatch option, repeatable: mem=64G, cpus_per_task=8, constraint=a100, "
                      "setup='module load cuda' (a shell line run first)."),
    click.option("--shard", default=None, metavar="I/N",
                 help="Run only slice I of N of the grid (0 <= I < N) into a shared --out; then "
                      "`ganzoo report OUT` gathers all shards."),
]


def launcher_options(f):
    """``--launcher``, ``--slurm-*``, ``--gpus-per-run`` and ``--shard`` (``ganzoo bench``)."""
    for option in reversed(_OPTIONS):
        f = option(f)
    return f


def slurm_options(f):
    """The same without ``--shard`` (``ganzoo ablate``: its final runs depend on its tuning runs' results)."""
    for option in reversed(_OPTIONS[:-1]):
        f = option(f)
    return f


def launcher_fields(launcher: str, slurm_partition=None, slurm_time=None, gpus_per_run=None, slurm_qos=None,
                    slurm_account=None, slurm_params=(), shard=None) -> dict[str, Any]:
    """The :class:`~ganzoo.bench.BenchPlan` fields ``launcher``, ``slurm`` and ``shard``; usage errors, no writes."""
    from ganzoo.errors import UsageError
    from ganzoo.launchers.shards import parse_shard
    from ganzoo.launchers.slurm import SlurmOptions, parse_time

    given = {"--slurm-partition": slurm_partition, "--slurm-time": slurm_time, "--gpus-per-run": gpus_per_run,
             "--slurm-qos": slurm_qos, "--slurm-account": slurm_account, "--slurm-param": list(slurm_params or ())}
    launcher = launcher or "local"
    if launcher != "slurm":
        used = [name for name, value in given.items() if value not in (None, [])]
        if used:
            raise UsageError(f"{', '.join(used)} {'needs' if len(used) == 1 else 'need'} --launcher slurm")
        return {"launcher": launcher, "slurm": None, "shard": parse_shard(shard)}
    if gpus_per_run is not None and gpus_per_run < 0:
        raise UsageError(f"--gpus-per-run must be 0 or more, got {gpus_per_run}")
    if slurm_time is not None:
        parse_time(slurm_time)
    options = SlurmOptions(partition=slurm_partition, time=slurm_time,
                           gpus_per_run=1 if gpus_per_run is None else gpus_per_run, qos=slurm_qos,
                           account=slurm_account, params=list(slurm_params or ()))
    return {"launcher": launcher, "slurm": options, "shard": parse_shard(shard)}


def resolve_launcher_device(device: str | None, fields: dict[str, Any]) -> str:
    """``--device``: on this machine for the local launcher; on the jobs' nodes for SLURM (auto: cuda with GPUs)."""
    from ganzoo.env import resolve_device
    from ganzoo.errors import UsageError

    if fields.get("launcher") != "slurm":
        return resolve_device(device)
    gpus = fields["slurm"].gpus_per_run
    if device in (None, "", "auto"):
        return "cuda" if gpus > 0 else "cpu"
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise UsageError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if kind == "cuda" and gpus == 0:
        raise UsageError(f"--device {device} with --gpus-per-run 0: the jobs would have no GPU")
    return device
