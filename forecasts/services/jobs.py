"""Background jobs: enqueue work for the task worker, follow it, and tell how it ended.

The admin asks for an import, re-runs or a prune with ``job_*_enqueue`` and answers at once; a
``db_worker`` process runs the task (``forecasts/tasks.py``), which calls the use case in the other
services inside ``job_running``. That records the job's state, its result or error, and which
process runs it, so a job whose worker was killed is marked failed (``jobs_mark_interrupted``)
instead of showing "running" for ever.
"""

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.cache import caches
from django.db import connection
from django.utils import timezone

from forecasts.models import Dataset, Job

# PostgreSQL advisory locks (namespace, Job id), held by the worker's session while it runs a job.
# Datasets use 4242 (services.datasets).
JOB_LOCK_NAMESPACE = 4243
PROGRESS_SECONDS = 0.5
PROGRESS_TTL = 24 * 3600
INTERRUPTED = (
    "The worker stopped before the job finished (it was killed or restarted); nothing was "
    "changed. Run the job again."
)


# --- Enqueue (the admin) ---------------------------------------------------------------------------


def job_import_enqueue(
    *, upload_path=None, url: str | None = None, last_estimate_year=None, user=None
) -> Job:
    """Queue the import of an upload kept by ``services.upload_store``, or of a URL."""
    if (upload_path is None) == (url is None):
        raise ValueError("Give an upload or a URL, not both.")
    if upload_path is not None:
        params = {"upload": str(upload_path)}
        description = f"Import upload: {os.path.basename(upload_path)}"
    else:
        params = {"url": url}
        description = f"Import {url}"
    params["last_estimate_year"] = last_estimate_year
    return _enqueue(Job.Kind.IMPORT, description, params, user)


def job_rerun_enqueue(*, run_ids: list[int], user=None) -> Job:
    """Queue new runs of the given forecast runs on the current data."""
    runs = "run" if len(run_ids) == 1 else "runs"
    description = f"Re-run {len(run_ids)} forecast {runs} on the current data"
    return _enqueue(Job.Kind.RERUN, description, {"run_ids": sorted(run_ids)}, user)


def job_prune_enqueue(*, older_than_days: int, dry_run: bool = False, user=None) -> Job:
    """Queue the deletion (or, with ``dry_run``, the count) of runs older than the given days."""
    verb = "Count" if dry_run else "Delete"
    description = f"{verb} forecast runs older than {older_than_days} days"
    params = {"older_than_days": older_than_days, "dry_run": dry_run}
    return _enqueue(Job.Kind.PRUNE, description, params, user)


# Job kind -> the task that runs it; forecasts/tasks.py registers its tasks here when the app loads
# (apps.ForecastsConfig.ready), so this module needs no import of the tasks, which import it.
TASKS = {}


def _enqueue(kind, description, params, user) -> Job:
    job = Job.objects.create(
        kind=kind,
        description=description[:1000],
        params=params,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    result = TASKS[kind].enqueue(job.pk)
    job.task_id = str(result.id)
    job.save(update_fields=["task_id"])
    return job


# --- Run (the worker) ------------------------------------------------------------------------------


@dataclass
class JobProgress:
    """Reports how far a job got, at most every PROGRESS_SECONDS (the "progress" cache)."""

    job_id: int
    unit: str
    total: int | None = None
    _last: float = field(default=0.0, repr=False)

    def start(self, total: int) -> None:
        self.total = total
        self.update(0, force=True)

    def update(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_SECONDS:
            self._last = now
            caches["progress"].set(
                _progress_key(self.job_id),
                {"done": done, "total": self.total, "unit": self.unit},
                PROGRESS_TTL,
            )


def _progress_key(job_id: int) -> str:
    return f"job-progress:{job_id}"


def job_progress(job: Job) -> dict | None:
    """The last progress a running job reported: done, total, unit and percent (or None)."""
    progress = caches["progress"].get(_progress_key(job.pk))
    if not progress:
        return None
    total = progress.get("total")
    percent = 100 * progress["done"] / total if total else None
    return {**progress, "percent": None if percent is None else min(percent, 100.0)}


@contextlib.contextmanager
def job_running(job_id: int, *, unit: str) -> Iterator[tuple[Job, JobProgress]]:
    """Run the body as job ``job_id``: record that it runs here, then how it ended.

    The body sets ``job.message``, ``job.result`` (and ``job.dataset``) before it returns. Any
    exception is recorded on the job and raised again: expected ones (a bad file, a region the data
    lacks) as their message, anything else as "Unexpected error", so the job page never shows
    "running" after its task stopped; raising lets the worker mark its task failed and log the
    traceback, so a bug is not hidden.
    """
    job = Job.objects.get(pk=job_id)
    jobs_mark_interrupted()
    job.status = Job.Status.RUNNING
    job.started_at = timezone.now()
    job.worker_host, job.worker_pid = socket.gethostname()[:255], os.getpid()
    job.save(update_fields=["status", "started_at", "worker_host", "worker_pid"])
    _lock(job, "pg_advisory_lock")
    progress = JobProgress(job_id=job.pk, unit=unit)
    try:
        yield job, progress
    except BaseException as error:  # recorded, then raised again (see the docstring)
        _record_failure(job, error)
        raise
    else:
        job.status = Job.Status.SUCCEEDED
        job.finished_at = timezone.now()
        job.save()
    finally:
        _lock(job, "pg_advisory_unlock")
        caches["progress"].delete(_progress_key(job.pk))


def _record_failure(job: Job, error: BaseException) -> None:
    from forecasts import rules, selectors
    from forecasts.services.datasets import DatasetImportError

    if isinstance(error, DatasetImportError | rules.ForecastError | selectors.RegionLookupError):
        job.error = str(error)
    elif isinstance(error, KeyboardInterrupt | SystemExit):
        job.error = "The worker was stopped during the job; nothing was changed."
    else:
        job.error = f"Unexpected error ({type(error).__name__}: {error}); see the worker's log."
    dataset = getattr(error, "dataset", None)
    if isinstance(dataset, Dataset):
        job.dataset = dataset
    job.status = Job.Status.FAILED
    job.message = job.error.splitlines()[0][:1000] if job.error else "Failed"
    job.finished_at = timezone.now()
    job.save()


def _lock(job: Job, function: str) -> None:
    """Hold (or release) the job's liveness lock on PostgreSQL: it goes when the worker dies."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s, %s)", [JOB_LOCK_NAMESPACE, job.pk])


def jobs_mark_interrupted() -> int:
    """Mark failed the running jobs whose worker stopped, and their tasks in the queue.

    A worker killed mid-job (SIGKILL, a crash, a lost machine) records nothing; its import was
    rolled back by the database, so the data is whole, but the job and its task would stay
    "running". On PostgreSQL a job is stopped when nobody holds its lock; on SQLite (one machine)
    when its worker process on this host is gone. Returns how many jobs were marked.
    """
    running = list(Job.objects.filter(status=Job.Status.RUNNING))
    stopped = [job for job in running if not _is_alive(job)]
    if not stopped:
        return 0
    now = timezone.now()
    Job.objects.filter(pk__in=[job.pk for job in stopped], status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED, error=INTERRUPTED, message=INTERRUPTED[:1000], finished_at=now
    )
    _fail_queue_rows([job.task_id for job in stopped if job.task_id], now)
    return len(stopped)


def _is_alive(job: Job) -> bool:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_LOCK_NAMESPACE, job.pk])
            free = cursor.fetchone()[0]
            if free:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK_NAMESPACE, job.pk])
        return not free
    if job.worker_host != socket.gethostname()[:255] or job.worker_pid is None:
        return True  # another machine's worker: it cannot be checked from here
    try:
        os.kill(job.worker_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user holds that id
    return True


def _fail_queue_rows(task_ids: list[str], now) -> None:
    """Mark the tasks of stopped jobs failed in django-tasks-db's queue table, as its worker
    would have had it not been killed, so the queue's own state agrees with the job's."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(id__in=task_ids, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path="forecasts.services.jobs.WorkerStopped",
        traceback=INTERRUPTED,
    )


class WorkerStopped(Exception):
    """What a job's task failed with when its worker was killed (see jobs_mark_interrupted)."""
