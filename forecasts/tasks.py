"""Background tasks: the admin's long work, run by ``python manage.py db_worker``.

Each task takes the id of the Job the admin created (``services.jobs``), runs the use case from
the services inside ``job_running`` (which records state, result or error on the job) and returns
the job's result, which the task queue keeps too. A task that fails raises, so the queue marks it
failed as well.
"""

from django_tasks import task

from forecasts import services
from forecasts.models import Job
from forecasts.services.jobs import TASKS, job_running


@task()
def import_dataset(job_id: int) -> dict:
    """Import the job's upload or URL and make it the active dataset."""
    with job_running(job_id, unit="bytes") as (job, progress):
        params = job.params
        options = {
            "last_estimate_year": params.get("last_estimate_year"),
            "progress_start": progress.start,
            "progress": progress.update,
        }
        if params.get("upload"):
            dataset = services.dataset_import_upload(path=params["upload"], **options)
        else:
            dataset = services.dataset_import(source=params["url"], **options)
        job.dataset = dataset
        job.result = {"dataset": dataset.pk, "edition": dataset.edition}
        job.message = (
            f"Imported {dataset.edition}: {dataset.region_count:,} regions, "
            f"{dataset.value_count:,} values in {dataset.duration_seconds:.1f} s."
        )
    return job.result


@task()
def rerun_forecasts(job_id: int) -> dict:
    """Store a new run on the current data for each of the job's runs."""
    with job_running(job_id, unit="runs") as (job, progress):
        run_ids = job.params["run_ids"]
        progress.start(len(run_ids))
        outcome = services.forecast_runs_rerun(run_ids=run_ids, progress=progress.update)
        job.result = {"created": outcome.created, "refused": outcome.refused}
        job.message = f"Created {len(outcome.created)} new run(s) on the current data" + (
            f"; {len(outcome.refused)} could not be re-run." if outcome.refused else "."
        )
    return job.result


@task()
def prune_forecast_runs(job_id: int) -> dict:
    """Delete (or count) the forecast runs older than the job's number of days."""
    with job_running(job_id, unit="runs") as (job, _progress):
        days, dry_run = job.params["older_than_days"], job.params["dry_run"]
        count = services.forecast_runs_prune(older_than_days=days, dry_run=dry_run)
        job.result = {"count": count, "dry_run": dry_run}
        job.message = (
            f"{count} forecast run(s) are older than {days} days (dry run: nothing was deleted)."
            if dry_run
            else f"Deleted {count} forecast run(s) older than {days} days."
        )
    return job.result


TASKS.update(
    {
        Job.Kind.IMPORT: import_dataset,
        Job.Kind.RERUN: rerun_forecasts,
        Job.Kind.PRUNE: prune_forecast_runs,
    }
)
