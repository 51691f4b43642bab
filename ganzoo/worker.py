"""Bench runs in worker processes: one fresh ``python -m ganzoo worker RUN_DIR`` per run.

Why a process per run: a run's peak memory is then its own (a process's peak only rises, so
runs sharing one process would each report the largest peak so far); a run that crashes the
interpreter, is killed by the OS for memory, or hangs cannot take the bench with it; and
several runs can go at once (``--jobs N``) without sharing a Python interpreter.

Protocol, all through the run directory ``OUT/runs/KEY/``:

* ``worker-task.json`` (written by the bench): the run's :class:`~ganzoo.runs.RunSpec` and
  the bench settings it needs (device, evaluation preset, resume, git revision, threads).
* ``worker.log``: the worker's stdout and stderr (appended to, one header per attempt).
* ``worker-result.json`` (written by the worker, atomically, as its last act): the store
  row of the run, whatever its status (ok, diverged, failed, collapsed).

No absolute path of the machine goes into these files: ``worker-task.json`` names the output
folder and the Inception weights relative to the run folder (``../..``), ``worker-result.json``
its paths relative to the output folder, as the store does (:mod:`ganzoo.store`).

The bench process starts and watches the workers. A worker that ends without a result --
killed by a signal (SIGKILL is also how the kernel's out-of-memory killer ends a process),
exited with an error, or stopped by the bench after ``--run-timeout`` seconds -- becomes a
``failed`` row whose reason names the signal or exit code and quotes the last lines of its
log. Rows go to the store from the bench process only, in the plan's order, so ``--jobs N``
writes the same store as ``--jobs 1``. Each worker gets ``cores // N`` threads (``--threads``
overrides; an ``OMP_NUM_THREADS`` already set is an upper bound) and, with ``--jobs auto`` on
a machine with GPUs, a GPU of its own. A worker dies with the bench process (Linux:
``PR_SET_PDEATHSIG``), so a bench killed mid-run leaves no orphan training, and
``--resume`` continues that run from its checkpoint.

``GANZOO_FAULT_WORKER=ACTION,STEP[,MATCH][;...]`` (tests only) makes the worker of every run
whose key contains MATCH do ACTION when training logs step STEP or later (the harness logs step
1 and every ``log_every`` steps): ``sigkill`` (kill itself
with SIGKILL), ``hang`` (sleep until killed), ``exit`` (``os._exit(3)``) or ``hog`` (allocate
memory until the allocation fails: with ``--run-memory-limit`` that is the limit).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

TASK_FILE = "worker-task.json"
RESULT_FILE = "worker-result.json"
LOG_FILE = "worker.log"
FAULT_ENV = "GANZOO_FAULT_WORKER"
PARENT_ENV = "GANZOO_WORKER_PARENT"
POLL_S = 0.2
LOG_TAIL_LINES = 4
GRACE_S = 20.0  # how long an interrupted worker may take to save its checkpoint


# ---- sizing ---------------------------------------------------------------------------------

def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_jobs(jobs: int | str, device: str) -> int:
    """``--jobs``: a positive number, or ``auto`` (one per GPU on a GPU machine, else 1)."""
    from ganzoo.errors import UsageError

    if str(jobs).strip().lower() == "auto":
        if str(device).startswith("cuda"):
            import torch

            if str(device) == "cuda" and torch.cuda.is_available():
                return max(torch.cuda.device_count(), 1)
        return 1
    try:
        n = int(jobs)
    except (TypeError, ValueError):
        raise UsageError(f"--jobs must be a positive number or 'auto', got {jobs!r}") from None
    if n < 1:
        raise UsageError(f"--jobs must be a positive number or 'auto', got {jobs!r}")
    return n


def threads_per_worker(jobs: int, threads: int | None = None) -> int:
    """Threads each worker uses so ``jobs`` workers share the cores without oversubscribing them."""
    if threads:
        return int(threads)
    n = max(1, usable_cores() // max(int(jobs), 1))
    try:
        cap = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        cap = 0
    return min(n, cap) if cap > 0 else n


# ---- the bench side -------------------------------------------------------------------------

@dataclass
class Worker:
    index: int
    spec: Any
    run_dir: Path
    proc: subprocess.Popen
    started: float
    log_offset: int
    peak_rss_mb: float | None = None
    timed_out: bool = False
    notes: list[str] = field(default_factory=list)


def _task(plan, spec, run_dir: Path, threads: int, progress: bool) -> dict:
    """What ``worker-task.json`` holds; its paths are relative to the run folder (see :func:`task_paths`)."""
    from ganzoo.store import relative_path

    here = run_dir.resolve()
    return {
        "spec": spec.to_record(here), "bench_id": plan.bench_id, "out": relative_path(Path(plan.out).resolve(), here),
        "run_dir": ".", "preset": plan.preset, "device": plan.device,
        "eval_split": plan.eval_split,
        "inception_weights": relative_path(Path(plan.inception_weights).resolve(), here)
        if plan.inception_weights else None,
        "progress": progress, "resume": plan.resume, "command": plan.command, "git_rev": plan.git_rev,
        "threads": threads, "memory_limit_mb": getattr(plan, "run_memory_mb", None),
    }


def task_paths(task: dict, run_dir: Path) -> tuple[Path, Path | None]:
    """The output folder and Inception weights a ``worker-task.json`` in ``run_dir`` names (absolute in older files)."""
    from ganzoo.store import resolve_path

    here = Path(run_dir).resolve()
    weights = task.get("inception_weights")
    return resolve_path(task["out"], here), resolve_path(weights, here) if weights else None


def result_row(row: dict, out: Path) -> dict:
    """A store row as ``worker-result.json`` (and a shard's ``bench-row.json``) records it: paths
    relative to the output folder, as the store keeps them (:meth:`ganzoo.store.ResultStore.add_run`)."""
    from ganzoo.store import portable_value

    return portable_value(dict(row), out)


def _start(plan, index: int, spec, slot: int, jobs: int, threads: int) -> Worker:
    from ganzoo.bench_plan import run_key
    from ganzoo.checkpoint import atomic_write_text

    run_dir = Path(plan.out) / "runs" / run_key(spec)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RESULT_FILE).unlink(missing_ok=True)
    progress = bool(plan.progress) and jobs == 1
    atomic_write_text(run_dir / TASK_FILE, json.dumps(_task(plan, spec, run_dir, threads, progress), indent=1,
                                                      default=str))
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    env[PARENT_ENV] = str(os.getpid())
    if jobs > 1 and str(plan.device) == "cuda":  # --jobs auto on a GPU machine: one GPU per worker
        import torch

        count = torch.cuda.device_count()
        if count > 1:
            visible = [v for v in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()] or \
                [str(i) for i in range(count)]
            env["CUDA_VISIBLE_DEVICES"] = visible[slot % len(visible)]
    log_path = run_dir / LOG_FILE
    with open(log_path, "ab") as log:
        log.write(f"=== ganzoo worker for {run_key(spec)}: {threads} thread(s), started "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        offset = log.tell()
        proc = subprocess.Popen([sys.executable, "-m", "ganzoo", "worker", str(run_dir.resolve())],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, cwd=os.getcwd())
    return Worker(index, spec, run_dir, proc, time.monotonic(), offset)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last non-empty lines of a worker log (progress-bar redraws split into lines)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(size - 16384, 0))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    parts = [p.strip() for p in text.replace("\r", "\n").split("\n")]
    parts = [p for p in parts if p and not p.startswith("=== ganzoo worker")]
    return [p[:300] for p in parts[-lines:]]


def failure_row(plan, spec, reason: str, wall_time_s: float, peak_rss_mb: float | None) -> dict:
    from datetime import datetime, timezone

    from ganzoo.bench_plan import run_key

    run_dir = Path(plan.out) / "runs" / run_key(spec)
    row = {"bench_id": plan.bench_id, "model": spec.model, "variant": spec.variant(), "dataset": spec.dataset,
           "preset": spec.preset, "seed": spec.seed, "budget": spec.budget_label(), "run_dir": f"runs/{run_dir.name}",
           "command": plan.command, "git_rev": plan.git_rev, "status": "failed", "reason": reason,
           "wall_time_s": wall_time_s, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    saved = checkpoint_position(run_dir)
    if saved:  # how far the run got: its last checkpoint
        row["steps"], row["images_seen"] = int(saved.get("step", 0)), int(saved.get("images_seen", 0))
    if peak_rss_mb is not None:
        row["worker_peak_rss_mb"] = peak_rss_mb
    return row


def checkpoint_position(run_dir: Path) -> dict | None:
    """The harness state (step, images_seen, ...) of a run's last checkpoint, or None."""
    try:
        saved = json.loads((run_dir / "checkpoint" / "state.json").read_text())["harness"]
        int(saved["step"])
        return saved
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _finish(plan, worker: Worker, returncode: int) -> dict:
    """The store row of a worker that has exited."""
    wall = time.monotonic() - worker.started
    result = worker.run_dir / RESULT_FILE
    if result.exists() and returncode == 0:
        try:
            row = json.loads(result.read_text())
            if worker.peak_rss_mb is not None:
                row.setdefault("worker_peak_rss_mb", worker.peak_rss_mb)
            return row
        except ValueError:
            worker.notes.append(f"{RESULT_FILE} is damaged")
    if worker.timed_out:
        why = f"timed out after {plan.run_timeout:g}s (--run-timeout); the worker was killed"
    elif returncode < 0:
        name = _signal_name(-returncode)
        why = f"worker killed by {name}"
        if -returncode == signal.SIGKILL:
            why += " (kill -9, or the kernel's out-of-memory killer"
            why += f"; its peak RSS was {worker.peak_rss_mb:.0f} MB)" if worker.peak_rss_mb else ")"
    elif returncode == 0:
        why = "worker exited without writing its result"
    else:
        why = f"worker exited with code {returncode}"
    why += "".join(f"; {n}" for n in worker.notes)
    tail = log_tail(worker.run_dir / LOG_FILE)
    log_rel = f"runs/{worker.run_dir.name}/{LOG_FILE}"
    if tail:
        why += f"; last lines of {log_rel}: " + " | ".join(tail)
    else:
        why += f"; {log_rel} is empty"
    return failure_row(plan, worker.spec, why, wall, worker.peak_rss_mb)


def _reusable_result(plan, spec) -> dict | None:
    """With --resume: the row a worker finished but the bench did not get to record (bench killed)."""
    from ganzoo.bench_plan import run_key

    if not plan.resume:
        return None
    run_dir = Path(plan.out) / "runs" / run_key(spec)
    try:
        row = json.loads((run_dir / RESULT_FILE).read_text())
        task = json.loads((run_dir / TASK_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not spec.matches_record(task.get("spec"), run_dir) or task.get("bench_id") != plan.bench_id:
        return None
    return row


def _kill(worker: Worker, sig: int) -> None:
    try:
        os.killpg(worker.proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _forward_log(worker: Worker) -> None:
    """With one worker and progress on: show its output (progress bars) live on stderr."""
    try:
        with open(worker.run_dir / LOG_FILE, "rb") as fh:
            fh.seek(worker.log_offset)
            data = fh.read()
    except OSError:
        return
    if data:
        worker.log_offset += len(data)
        stream = click.get_text_stream("stderr")
        stream.write(data.decode("utf-8", errors="replace"))
        stream.flush()


def run_workers(plan, specs: list, record: Callable[[Any, dict], None]) -> None:
    """Run each spec in a worker, ``plan.jobs`` at once; call ``record(spec, row)`` in plan order."""
    from ganzoo.memory import process_peak_rss_mb

    jobs = resolve_jobs(plan.jobs, plan.device)
    threads = threads_per_worker(jobs, plan.threads)
    pending = list(enumerate(specs))
    running: dict[int, Worker] = {}
    results: dict[int, dict] = {}
    next_record = 0
    free_slots = list(range(jobs))
    slot_of: dict[int, int] = {}
    if jobs > 1:
        click.echo(f"running {len(specs)} run(s), {jobs} at once, {threads} thread(s) each")
    try:
        while pending or running or next_record < len(specs):
            while pending and len(running) < jobs:
                index, spec = pending.pop(0)
                reused = _reusable_result(plan, spec)
                if reused is not None:
                    results[index] = reused
                    continue
                slot = free_slots.pop(0)
                slot_of[index] = slot
                running[index] = _start(plan, index, spec, slot, jobs, threads)
            for index, worker in list(running.items()):
                returncode = worker.proc.poll()
                if returncode is None:
                    peak = process_peak_rss_mb(worker.proc.pid)
                    if peak is not None:
                        worker.peak_rss_mb = max(worker.peak_rss_mb or 0.0, peak)
                    if plan.run_timeout and time.monotonic() - worker.started > plan.run_timeout:
                        worker.timed_out = True
                        _kill(worker, signal.SIGKILL)
                        worker.proc.wait()
                        returncode = worker.proc.returncode
                if returncode is not None:
                    if jobs == 1 and plan.progress:
                        _forward_log(worker)
                    results[index] = _finish(plan, worker, returncode)
                    del running[index]
                    free_slots.append(slot_of.pop(index))
                elif jobs == 1 and plan.progress:
                    _forward_log(worker)
            while next_record in results:
                record(specs[next_record], results.pop(next_record))
                next_record += 1
            if running:
                time.sleep(POLL_S)
    except BaseException:
        # interrupted (Ctrl-C) or the bench itself failed: let each worker save its checkpoint, then stop it
        for worker in running.values():
            _kill(worker, signal.SIGINT)
        deadline = time.monotonic() + GRACE_S
        for worker in running.values():
            try:
                worker.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _kill(worker, signal.SIGKILL)
                worker.proc.wait()
        raise


# ---- the worker side ------------------------------------------------------------------------

def _die_with_parent(parent: int | None) -> None:
    """Linux: SIGKILL this worker when the bench process dies, so no run outlives its bench."""
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the bench died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def _fault_hook(run_dir: Path) -> Callable[[int, dict], None] | None:
    for entry in os.environ.get(FAULT_ENV, "").split(";"):  # several faults: ENTRY;ENTRY
        parts = [p.strip() for p in entry.split(",")]
        if not parts[0]:
            continue
        action, step = parts[0], int(parts[1]) if len(parts) > 1 and parts[1] else 1
        match = parts[2] if len(parts) > 2 else ""
        if not match or match in run_dir.name:
            return _fault(action, step)
    return None


def _fault(action: str, step: int) -> Callable[[int, dict], None]:

    def hook(at: int, losses: dict) -> None:
        if at < step:
            return
        print(f"fault injection ({FAULT_ENV}): {action} at step {at}", flush=True)
        if action == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "hang":
            while True:
                time.sleep(60)
        elif action == "exit":
            os._exit(3)
        elif action == "hog":
            import torch

            held = []
            while True:
                held.append(torch.ones(64 << 20, dtype=torch.uint8))  # 64 MiB at a time, touched

    return hook


def main(argv: list[str]) -> int:
    """``python -m ganzoo worker RUN_DIR``: run the task in RUN_DIR, write its result row there.

    What it prints goes to ``worker.log``; warnings and an uncaught exception's traceback name no
    folder of the machine there (paths relative to the output folder, ``<python>/...``, ...).
    """
    from ganzoo.store import portable_text, portable_warnings

    if len(argv) != 1:
        print("usage: python -m ganzoo worker RUN_DIR (started by `ganzoo bench`)", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    out = run_dir.resolve().parent.parent  # RUN_DIR is OUT/runs/KEY
    with portable_warnings(out):
        try:
            return _work(run_dir)
        except Exception:  # Python would print the traceback and exit with 1
            print(portable_text(traceback.format_exc(), out), file=sys.stderr, flush=True)
            return 1
        except KeyboardInterrupt as exc:  # stopped by the bench (checkpoint saved): Python still ends it, by SIGINT
            print(portable_text(traceback.format_exc(), out), file=sys.stderr, flush=True)
            _quiet_at_exit(exc)
            raise


def _quiet_at_exit(shown: BaseException) -> None:
    """Python does not print ``shown`` again (its traceback, already printed) if it ends the process."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        if value is not shown:
            previous(kind, value, tb)

    sys.excepthook = hook


def _work(run_dir: Path) -> int:
    from ganzoo.checkpoint import atomic_write_text

    parent = os.environ.get(PARENT_ENV)
    _die_with_parent(int(parent) if parent and parent.isdigit() else None)
    task = json.loads((run_dir / TASK_FILE).read_text())
    limit_mb = task.get("memory_limit_mb")
    if limit_mb:  # --run-memory-limit: allocations past it fail inside this run, not the machine
        import resource

        limit = int(float(limit_mb) * (1 << 20))
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        print(f"memory limit {float(limit_mb):g} MB (RLIMIT_DATA)", flush=True)
    from ganzoo.memory import start_peak_sampler

    start_peak_sampler()  # the run's CPU peak memory counts from the worker's start
    # 0: decided by whoever started this worker (a SLURM job sets OMP_NUM_THREADS from its cores)
    threads = int(task.get("threads") or 0) or int(os.environ.get("OMP_NUM_THREADS", "") or 0) or 1

    import torch

    torch.set_num_threads(threads)
    from ganzoo.bench_plan import BenchPlan
    from ganzoo.bench_run import run_one
    from ganzoo.memory import process_peak_rss_mb
    from ganzoo.runs import RunSpec

    # run.json records the bench's command, not this worker's
    import shlex

    try:
        sys.argv = ["ganzoo", *shlex.split(task["command"])[1:]]
    except ValueError:
        sys.argv = ["ganzoo", "bench"]
    spec = RunSpec.from_record(task["spec"], run_dir)
    out, weights = task_paths(task, run_dir)
    plan = BenchPlan(bench_id=task["bench_id"], out=out, specs=[spec], preset=task["preset"],
                     device=task["device"], eval_split=task.get("eval_split", "test"), inception_weights=weights,
                     progress=bool(task.get("progress")), resume=bool(task.get("resume")),
                     command=task["command"], git_rev=task.get("git_rev"), isolate=False)
    print(f"worker pid {os.getpid()}: {spec.model} [{spec.variant()}] seed {spec.seed}, "
          f"{torch.get_num_threads()} thread(s), device {plan.device}", flush=True)
    saved = checkpoint_position(run_dir)
    if plan.resume and saved:
        print(f"resuming from the checkpoint at step {saved['step']}", flush=True)
    from ganzoo import distributed

    if distributed.info().enabled and not distributed.info().is_main:
        # a run on several GPUs (torchrun inside its SLURM job): this rank trains; rank 0 evaluates and writes
        from dataclasses import replace

        from ganzoo.errors import GanzooError
        from ganzoo.harness import train

        try:
            train(replace(spec), run_dir, device=plan.device, progress=False, resume=plan.resume and bool(saved))
        except GanzooError:
            pass  # rank 0 records the failure
        return 0
    row = run_one(plan, spec, on_log=_fault_hook(run_dir))
    row["worker_peak_rss_mb"] = process_peak_rss_mb()
    row["threads"] = torch.get_num_threads()
    row = result_row(row, plan.out)  # worker.log and worker-result.json name no folder of the machine
    print(f"worker done: {row['status']}{' - ' + row['reason'] if row.get('reason') else ''}", flush=True)
    atomic_write_text(run_dir / RESULT_FILE, json.dumps(row, indent=1, default=str))
    return 0
