"""``--launcher slurm``: each run of a bench is one SLURM job, submitted through submitit.

A job runs the same worker as a local bench, ``python -m ganzoo worker RUN_DIR`` (under
``torchrun --standalone --nproc_per_node=G`` when a run has ``--gpus-per-run G`` > 1): the job's
function, :func:`run_worker_job`, starts it with its output appended to ``RUN_DIR/worker.log``
and notes its start (``RUN_DIR/launcher-job.json``) and exit code (``RUN_DIR/launcher-exit.json``).
The runs of one submission go as one job array (submitit's ``executor.batch()``); submitit keeps
each job's sbatch script, pickles and logs in ``OUT/slurm/JOB_ID/``.

The bench process writes each run's ``worker-task.json``, submits, saves the job ids in
``OUT/slurm/jobs.json`` (``jobs-I-of-N.json`` for a shard), then polls: a run is *queued* until its
job starts, *running* until ``worker-result.json`` appears (*done*) or its job ends without one
(*failed*: the SLURM state, the worker's exit code and the last lines of its log). It records
the rows itself, in plan order, so the results store has one writer and never sits on a
network file system with several. Killed or interrupted, the bench leaves the jobs running;
``--resume`` reattaches to the jobs of ``jobs.json`` still queued or running, takes the results
of those that finished meanwhile, and submits again only runs whose job ended without a result
(their worker resumes from the run's checkpoint).

``GANZOO_SLURM_EXECUTOR=local`` (tests) submits through submitit's ``LocalExecutor`` instead:
the same code path up to the submission call, jobs as local processes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click

STARTED_FILE = "launcher-job.json"
EXIT_FILE = "launcher-exit.json"
EXECUTOR_ENV = "GANZOO_SLURM_EXECUTOR"  # "local": submitit's LocalExecutor (tests)
POLL_ENV = "GANZOO_SLURM_POLL_S"
DEFAULT_TIME = "24:00:00"
SACCT_EVERY_S = 60.0
#: SLURM job states after which a job will not run again (sacct may add " by UID" to CANCELLED)
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
         "DEADLINE", "REVOKED", "SPECIAL_EXIT", "FINISHED", "INTERRUPTED", "NO PROCESS AND NO RESULT"}
QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED", "RESV_DEL_HOLD",
          "UNKNOWN"}


@dataclass
class SlurmOptions:
    """What ``--slurm-*`` and ``--gpus-per-run`` ask of every job."""

    partition: str | None = None
    time: str | None = None  # SLURM's forms: MINUTES, HH:MM:SS, D-HH[:MM[:SS]]; or 90m, 4h, 2d
    gpus_per_run: int = 1
    qos: str | None = None
    account: str | None = None
    params: list[str] = field(default_factory=list)  # KEY=VALUE: a submitit parameter or any sbatch flag

    def minutes(self) -> int:
        return parse_time(self.time or DEFAULT_TIME)

    def nproc(self) -> int:
        """Processes per run: one per GPU under torchrun, or one plain worker."""
        return max(int(self.gpus_per_run), 1)

    def executor_parameters(self, job_name: str) -> dict[str, Any]:
        """The SlurmExecutor parameters (sbatch flags) of every job."""
        from ganzoo.errors import UsageError

        params: dict[str, Any] = {"job_name": job_name, "time": self.minutes(), "nodes": 1, "ntasks_per_node": 1}
        if self.partition:
            params["partition"] = self.partition
        if int(self.gpus_per_run) > 0:
            params["gpus_per_node"] = int(self.gpus_per_run)
        if self.qos:
            params["qos"] = self.qos
        if self.account:
            params["account"] = self.account
        known = _submitit_parameters()
        extra: dict[str, str] = {}
        setup: list[str] = []
        for item in self.params:
            key, sep, value = str(item).partition("=")
            key = key.strip()
            if not sep or not key:
                raise UsageError(f"--slurm-param takes KEY=VALUE (an sbatch option), got {item!r}")
            name = key.lstrip("-").replace("-", "_")
            if name == "setup":  # a shell line run before the job's command (module load ..., source ...)
                setup.append(value)
            elif name == "time":
                params["time"] = parse_time(value)
            elif name in known and name not in ("map_count", "additional_parameters", "srun_args"):
                params[name] = _param_value(value)
            else:
                extra[key.lstrip("-").replace("_", "-")] = value
        if setup:
            params["setup"] = setup
        if extra:
            params["additional_parameters"] = extra
        return params


def _param_value(text: str) -> Any:
    if re.fullmatch(r"\d+", text.strip()):
        return int(text)
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    return text


def _submitit_parameters() -> set[str]:
    from submitit.slurm.slurm import _get_default_parameters

    return set(_get_default_parameters())


def parse_time(text: str) -> int:
    """A SLURM time limit in whole minutes: ``90``, ``1:30:00``, ``2-00:00:00``, ``2-12``, ``90m``, ``4h``, ``2d``."""
    from ganzoo.errors import UsageError

    s = str(text).strip().lower()
    bad = UsageError(f"--slurm-time {text!r} is not a time limit; use minutes, HH:MM:SS, D-HH:MM:SS, or 90m, 4h, 2d")
    unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", s)
    if unit:
        minutes = float(unit[1]) * {"s": 1 / 60, "m": 1, "h": 60, "d": 1440}[unit[2]]
    else:
        days = 0
        if "-" in s:
            d, _, s = s.partition("-")
            if not d.isdigit():
                raise bad
            days = int(d)
        parts = s.split(":")
        if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
            raise bad
        nums = [int(p) for p in parts]
        if days:  # D-HH, D-HH:MM, D-HH:MM:SS
            nums += [0] * (3 - len(nums))
            minutes = days * 1440 + nums[0] * 60 + nums[1] + nums[2] / 60
        elif len(nums) == 1:  # MINUTES
            minutes = nums[0]
        elif len(nums) == 2:  # MM:SS
            minutes = nums[0] + nums[1] / 60
        else:  # HH:MM:SS
            minutes = nums[0] * 60 + nums[1] + nums[2] / 60
    if minutes <= 0:
        raise bad
    return max(int(-(-minutes // 1)), 1)


# ---- executors ------------------------------------------------------------------------------

def executor_kind() -> str:
    kind = os.environ.get(EXECUTOR_ENV, "").strip().lower() or "slurm"
    return kind if kind in ("slurm", "local") else "slurm"


INSTALL_HINT = "pip install 'ganzoo[slurm]'"


def require_submitit():
    """The submitit module, or a one-line usage error (exit 2) saying how to install it."""
    from ganzoo.errors import UsageError

    try:
        import submitit
    except ImportError:
        raise UsageError(f"--launcher slurm needs submitit, which is not installed: {INSTALL_HINT}") from None
    return submitit


def job_folder(plan) -> Path:
    """submitit's folder: one per job (``%j``: the job id; ``ARRAY_TASK`` for an array member)."""
    return Path(plan.out).resolve() / "slurm" / "%j"


def make_executor(plan, kind: str | None = None, preview: bool = False):
    """The submitit executor of ``plan``'s jobs (``preview``: a SlurmExecutor that works without ``srun``)."""
    from ganzoo.errors import UsageError
    submitit = require_submitit()
    kind = kind or executor_kind()
    opts = plan.slurm or SlurmOptions()
    folder = job_folder(plan)
    if kind == "local":
        executor = submitit.LocalExecutor(folder)
        executor.update_parameters(timeout_min=opts.minutes(), signal_delay_s=30)
        return executor

    class PreviewExecutor(submitit.SlurmExecutor):
        @classmethod
        def affinity(cls) -> int:
            return 2

    try:
        executor = (PreviewExecutor if preview else submitit.SlurmExecutor)(folder)
    except RuntimeError as exc:  # no srun: not on a SLURM cluster
        raise UsageError(f"--launcher slurm: {exc} (run the bench on a login node of the cluster)") from None
    try:
        executor.update_parameters(**opts.executor_parameters(f"ganzoo-{plan.bench_id}"))
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--slurm-param: {str(exc).splitlines()[0]}") from None
    return executor


def sbatch_script(plan, runs: int = 1) -> str:
    """The sbatch script submitit writes for ``runs`` jobs of ``plan`` (an array when ``runs`` > 1); submits nothing."""
    executor = make_executor(plan, "slurm", preview=True)
    if runs > 1:
        executor.parameters["map_count"] = runs
    return executor._make_submission_file_text(executor._submitit_command_str, "preview")


def check_slurm_plan(plan) -> None:
    """``--launcher slurm``'s options, and no second submission of runs whose jobs are still alive."""
    from ganzoo.errors import UsageError

    opts = plan.slurm or SlurmOptions()
    if int(opts.gpus_per_run) < 0:
        raise UsageError(f"--gpus-per-run must be 0 or more, got {opts.gpus_per_run}")
    if plan.run_timeout is not None:
        raise UsageError("--run-timeout is for the local launcher; with --launcher slurm, --slurm-time limits each run")
    opts.minutes()
    make_executor(plan, "slurm", preview=True)  # every parameter as submitit checks it
    if plan.resume:
        return
    saved = load_jobs(plan)
    if not saved:
        return
    from ganzoo.bench_plan import run_key

    keys = {run_key(spec) for spec in plan.specs}
    for key, entry in saved.items():
        if key in keys and entry.get("bench_id") == plan.bench_id:
            state = scheduler_state(attach(entry), entry.get("executor", "slurm"), force=True)
            if _alive(state):
                raise UsageError(f"run {key} still has job {entry['job_id']} ({state}) from an earlier bench in "
                                 f"{plan.out}; pass --resume to wait for it, or cancel it (scancel {entry['job_id']})")


# ---- the job --------------------------------------------------------------------------------

def _atomic_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _current_job_id() -> str | None:
    try:
        import submitit

        return str(submitit.JobEnvironment().job_id)
    except Exception:  # not inside a submitit job
        return None


def run_worker_job(run_dir: str, nproc: int = 1) -> int:
    """The function of every job: run the worker of RUN_DIR (under torchrun with several GPUs); its exit code.

    SIGTERM (scancel, the time limit) and SIGUSR2 (submitit's warning before the time limit)
    reach the worker as SIGINT, so it saves its checkpoint and ``--resume`` continues from there.
    """
    import socket
    import subprocess

    from ganzoo.worker import LOG_FILE, PARENT_ENV, TASK_FILE, threads_per_worker

    path = Path(run_dir)
    job_id = _current_job_id()
    _atomic_json(path / STARTED_FILE, {"job_id": job_id, "host": socket.gethostname(), "pid": os.getpid(),
                                       "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    task = json.loads((path / TASK_FILE).read_text())
    nproc = max(int(nproc), 1)
    threads = int(task.get("threads") or 0) or threads_per_worker(nproc)
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    if nproc > 1:  # one rank per GPU of the job; torchrun is the workers' parent
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                   "-m", "ganzoo", "worker", str(path)]
        env.pop(PARENT_ENV, None)
    else:
        command = [sys.executable, "-m", "ganzoo", "worker", str(path)]
        env[PARENT_ENV] = str(os.getpid())
    with open(path / LOG_FILE, "ab") as log:
        log.write(f"=== ganzoo worker for {path.name}: job {job_id} on {socket.gethostname()}, {nproc} process(es), "
                  f"{threads} thread(s) each, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)

    def forward(signum, frame):  # let the worker save its checkpoint
        try:
            proc.send_signal(signal.SIGINT)
        except OSError:
            pass

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGUSR2):
        try:
            previous[sig] = signal.signal(sig, forward)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        returncode = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _atomic_json(path / EXIT_FILE, {"job_id": job_id, "returncode": returncode})
    return returncode


# ---- the bench side -------------------------------------------------------------------------

def jobs_file(plan) -> Path:
    shard = getattr(plan, "shard", None)
    name = f"jobs-{shard[0]}-of-{shard[1]}.json" if shard else "jobs.json"
    return Path(plan.out) / "slurm" / name


def load_jobs(plan) -> dict[str, dict]:
    """The saved jobs; each entry's submitit ``folder`` as a path (the file records it relative to itself)."""
    from ganzoo.store import resolve_path

    path = jobs_file(plan)
    try:
        runs = dict(json.loads(path.read_text()).get("runs", {}))
    except (OSError, ValueError, AttributeError):
        return {}
    for entry in runs.values():
        if isinstance(entry, dict) and entry.get("folder"):
            entry["folder"] = str(resolve_path(entry["folder"], path.parent.resolve()))
    return runs


def _save_jobs(plan, runs: dict[str, dict]) -> None:
    from ganzoo.store import relative_path

    path = jobs_file(plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent.resolve()
    runs = {key: {**entry, "folder": relative_path(entry["folder"], base)} if entry.get("folder") else entry
            for key, entry in runs.items()}
    _atomic_json(path, {"bench_id": plan.bench_id, "runs": runs})


def attach(entry: dict):
    """The submitit job of a saved entry (no process handle: its state comes from the scheduler)."""
    import submitit

    if entry.get("executor") == "local":
        return submitit.LocalJob(folder=entry["folder"], job_id=str(entry["job_id"]))
    return submitit.SlurmJob(folder=entry["folder"], job_id=str(entry["job_id"]))


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return not any(line.startswith("State:") and line.split()[1] in ("Z", "X") for line in fh)
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except (OSError, ValueError):
            return False


def scheduler_state(job, kind: str, force: bool = False) -> str:
    """The job's state as the scheduler sees it: PENDING, RUNNING, COMPLETED, FAILED, ... (upper case)."""
    if kind == "local":
        if getattr(job, "_process", None) is not None:
            return str(job.state).upper()
        return "RUNNING" if _pid_alive(int(job.job_id)) else "FINISHED"
    try:
        return str(job.watcher.get_state(job.job_id, mode="force" if force else "cache")).upper()
    except Exception:  # sacct unavailable for a moment
        return "UNKNOWN"


def _base_state(state: str) -> str:
    return state.split()[0] if state.strip() else "UNKNOWN"


def _alive(state: str) -> bool:
    return _base_state(state) not in ENDED and state not in ENDED


@dataclass
class _Tracked:
    index: int
    spec: Any
    run_dir: Path
    job: Any
    job_id: str
    shown: str = ""


def _entry_matches(entry: dict, plan, spec) -> bool:
    return entry.get("bench_id") == plan.bench_id and spec.matches_record(entry.get("spec"), jobs_file(plan).parent)


def _submit(plan, kind: str, items: list[tuple[int, Any]], saved: dict[str, dict]) -> list[_Tracked]:
    from ganzoo.bench_plan import run_key
    from ganzoo.worker import RESULT_FILE, TASK_FILE, _task

    opts = plan.slurm or SlurmOptions()
    executor = make_executor(plan, kind)
    run_dirs = []
    for _, spec in items:
        run_dir = Path(plan.out).resolve() / "runs" / run_key(spec)
        run_dir.mkdir(parents=True, exist_ok=True)
        for name in (RESULT_FILE, STARTED_FILE, EXIT_FILE):
            (run_dir / name).unlink(missing_ok=True)
        # threads 0: the job decides, from the cores SLURM gave it
        _atomic_json(run_dir / TASK_FILE, json.loads(json.dumps(_task(plan, spec, run_dir, int(plan.threads or 0),
                                                                      False), default=str)))
        run_dirs.append(run_dir)
    with executor.batch():
        jobs = [executor.submit(run_worker_job, str(d), opts.nproc()) for d in run_dirs]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    tracked = []
    for (index, spec), run_dir, job in zip(items, run_dirs, jobs):
        saved[run_key(spec)] = {"job_id": str(job.job_id), "executor": kind, "folder": str(job_folder(plan)),
                                "bench_id": plan.bench_id, "spec": spec.to_record(jobs_file(plan).parent),
                                "submitted_at": now}
        tracked.append(_Tracked(index, spec, run_dir, job, str(job.job_id)))
    _save_jobs(plan, saved)
    ids = [t.job_id for t in tracked]
    what = "job" if len(ids) == 1 else ("job array" if kind == "slurm" else "jobs")
    click.echo(f"submitted {len(ids)} run(s) as {what} {_id_range(ids)}; job logs in "
               f"{Path(plan.out) / 'slurm'}/JOB_ID/, worker logs in runs/RUN/worker.log")
    return tracked


def _id_range(ids: list[str]) -> str:
    arrays = {i.split("_")[0] for i in ids}
    if len(arrays) == 1 and all("_" in i for i in ids):
        return f"{ids[0].split('_')[0]}_[0-{len(ids) - 1}]"
    return ", ".join(ids)


def _failure_reason(plan, t: _Tracked, state: str, kind: str) -> str:
    from ganzoo.worker import LOG_FILE, _signal_name, log_tail

    who = "SLURM job" if kind == "slurm" else "submitit local job"
    why = f"{who} {t.job_id} ended {state} without a result"
    try:
        code = int(json.loads((t.run_dir / EXIT_FILE).read_text())["returncode"])
        why += f"; worker killed by {_signal_name(-code)}" if code < 0 else f"; worker exited with code {code}"
    except (OSError, ValueError, KeyError, TypeError):
        if not (t.run_dir / STARTED_FILE).exists():
            why += "; the job never started the worker"
    tail = log_tail(t.run_dir / LOG_FILE)
    if tail:
        why += f"; last lines of runs/{t.run_dir.name}/{LOG_FILE}: " + " | ".join(tail)
    why += f"; job log in slurm/{t.job_id}/"
    return why


def _read_result(plan, t: _Tracked) -> dict | None:
    from ganzoo.worker import RESULT_FILE, TASK_FILE

    try:
        row = json.loads((t.run_dir / RESULT_FILE).read_text())
        task = json.loads((t.run_dir / TASK_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not t.spec.matches_record(task.get("spec"), t.run_dir) or task.get("bench_id") != plan.bench_id:
        return None
    row.setdefault("slurm_job_id", t.job_id)
    return row


def run_slurm(plan, specs: list, record: Callable[[Any, dict], None]) -> None:
    """Run each spec as a SLURM job (reattaching to live jobs with ``--resume``); ``record`` rows in plan order."""
    from ganzoo.bench_plan import run_key
    from ganzoo.worker import _reusable_result, failure_row

    kind = executor_kind()
    poll_s = float(os.environ.get(POLL_ENV) or (0.5 if kind == "local" else 15.0))
    saved = load_jobs(plan)
    results: dict[int, dict] = {}
    tracked: dict[int, _Tracked] = {}
    to_submit: list[tuple[int, Any]] = []
    for index, spec in enumerate(specs):
        reused = _reusable_result(plan, spec)
        if reused is not None:
            click.echo(f"[done] {run_key(spec)}: its job finished while the bench was away")
            results[index] = reused
            continue
        entry = saved.get(run_key(spec)) if plan.resume else None
        if entry and _entry_matches(entry, plan, spec):
            job = attach(entry)
            state = scheduler_state(job, entry.get("executor", kind), force=True)
            if _alive(state):
                click.echo(f"reattach {run_key(spec)} to job {entry['job_id']} ({state.lower()})")
                tracked[index] = _Tracked(index, spec, Path(plan.out).resolve() / "runs" / run_key(spec), job,
                                          str(entry["job_id"]))
                continue
        to_submit.append((index, spec))
    if to_submit:
        for t in _submit(plan, kind, to_submit, saved):
            tracked[t.index] = t
    next_record = 0
    last_sacct = time.monotonic()
    counts_shown = ""
    failed = sum(r.get("status") == "failed" for r in results.values())
    try:
        while tracked or next_record < len(specs):
            if kind == "slurm" and tracked and time.monotonic() - last_sacct > SACCT_EVERY_S:
                _refresh_states(tracked)
                last_sacct = time.monotonic()
            for index, t in list(tracked.items()):
                state = scheduler_state(t.job, kind)
                row = _read_result(plan, t)
                if row is None and not _alive(state):
                    row = _read_result(plan, t)  # written just before the job ended
                    if row is None:
                        started = t.run_dir / STARTED_FILE
                        wall = time.time() - started.stat().st_mtime if started.exists() else 0.0
                        row = failure_row(plan, t.spec, _failure_reason(plan, t, state, kind), wall, None)
                        row["slurm_job_id"] = t.job_id
                if row is not None:
                    results[index] = row
                    failed += row.get("status") == "failed"
                    del tracked[index]
                    continue
                base, started = _base_state(state), (t.run_dir / STARTED_FILE).exists()
                running = base in ("RUNNING", "COMPLETING") if kind == "slurm" else False
                shown = "running" if running or (started and base not in QUEUED) else "queued"
                if shown != t.shown:
                    t.shown = shown
                    click.echo(f"[{shown}] {run_key(t.spec)}: job {t.job_id}")
            while next_record in results:
                record(specs[next_record], results.pop(next_record))
                next_record += 1
            counts = _counts(tracked, failed, len(specs))
            if counts != counts_shown:
                counts_shown = counts
                click.echo(f"progress: {counts}")
            if tracked:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        if tracked:
            ids = " ".join(t.job_id for t in tracked.values())
            click.echo(f"\ninterrupted: {len(tracked)} job(s) keep running ({ids}); the same command with --resume "
                       f"reattaches to them; scancel {ids} stops them", err=True)
        raise


def _refresh_states(tracked: dict[int, _Tracked]) -> None:
    """One sacct call for every tracked job (submitit batches them)."""
    try:
        next(iter(tracked.values())).job.watcher.update()
    except Exception:
        pass


def _counts(tracked: dict[int, _Tracked], failed: int, total: int) -> str:
    queued = sum(t.shown != "running" for t in tracked.values())
    running = len(tracked) - queued
    done = total - len(tracked) - failed
    return f"{queued} queued, {running} running, {done} done, {failed} failed (of {total})"


def report_device_name(plan, store, fallback: str) -> str:
    """The report's device line for runs that ran on cluster nodes: the devices the rows recorded."""
    opts = plan.slurm or SlurmOptions()
    try:
        devices = [d for d in store.runs()["device"].dropna().unique() if d]
    except Exception:
        devices = []
    where = ", ".join(str(d) for d in devices) or fallback
    gpus = f"{opts.gpus_per_run} GPU(s) per run" if opts.gpus_per_run else "CPU only"
    return f"{where} (SLURM jobs, {gpus}{', partition ' + opts.partition if opts.partition else ''})"
