"""Background jobs: the task worker runs what the admin queues; the job page follows it; a job
whose worker was killed ends failed, with its queue row, and the next import succeeds."""

import contextlib
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from forecasts import services, tasks
from forecasts.models import Dataset, ForecastRun, Job, Region, YearlyPopulation
from forecasts.services import jobs

REFRESH_URL = "/admin/forecasts/dataset/refresh/"


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def job_url(job):
    return reverse("admin:forecasts_job_change", args=[job.pk])


def queue_row(job):
    return DBTaskResult.objects.get(id=job.task_id)


@pytest.mark.django_db
def test_a_queued_job_page_refreshes_itself_and_says_it_waits_for_the_worker(
    staff_client, small_wide_file
):
    with open(small_wide_file, "rb") as file:
        response = staff_client.post(REFRESH_URL, {"file": file})
    job = Job.objects.get()
    assert response.url == job_url(job)
    assert (job.kind, job.status, job.description) == (
        Job.Kind.IMPORT,
        Job.Status.QUEUED,
        "Import upload: wpp2019_small.csv",
    )
    assert queue_row(job).task_path == "forecasts.tasks.import_dataset"
    assert not Dataset.objects.exists()  # nothing was imported in the request
    page = staff_client.get(job_url(job)).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "Waiting for the task worker" in page
    assert "is the worker running" not in page
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timezone.timedelta(minutes=1))
    assert "is the worker running" in staff_client.get(job_url(job)).content.decode()


@pytest.mark.django_db
def test_a_running_import_shows_its_progress(staff_client, small_dataset):
    job = services.job_import_enqueue(url="https://example.org/WPP2024.csv")
    _claimed(job, pid=jobs.os.getpid())  # this process stands for the live worker
    progress = jobs.JobProgress(job_id=job.pk, unit="bytes")
    progress.start(4000)
    progress.update(1000, force=True)
    with _worker_session(job):
        page = staff_client.get(job_url(job)).content.decode()
    assert '<progress max="100" value="25">' in page
    assert "25% (1,000 of 4,000 bytes)" in page
    assert 'http-equiv="refresh"' in page


@pytest.mark.django_db
def test_the_worker_reports_progress_while_importing(run_tasks, small_long_file, monkeypatch):
    seen = []
    update = jobs.JobProgress.update

    def spy(self, done, *, force=False):
        update(self, done, force=True)
        seen.append(services.job_progress(Job.objects.get(pk=self.job_id)))

    monkeypatch.setattr(jobs.JobProgress, "update", spy)
    job = services.job_import_enqueue(url=None, upload_path=_kept(small_long_file))
    run_tasks()
    assert seen[0]["done"] == 0
    assert seen[-1]["percent"] == 100
    assert all(entry["unit"] == "bytes" for entry in seen)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert services.job_progress(job) is None  # cleared when done


def _kept(path):
    """A file placed as the admin places an upload (services.upload_store)."""

    class Upload:
        name = path.name

        def chunks(self):
            yield path.read_bytes()

    return services.upload_store(Upload())


@pytest.mark.django_db
def test_a_failed_import_fails_its_task_in_the_queue_too(
    staff_client, run_tasks, small_dataset, tmp_path
):
    broken = tmp_path / "WPP2019_broken.csv"
    broken.write_text("not,a,wpp,file\n1,2,3,4\n")
    job = services.job_import_enqueue(upload_path=_kept(broken))
    run_tasks()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.dataset.status == Dataset.Status.FAILED
    assert queue_row(job).status == TaskResultStatus.FAILED
    assert Dataset.objects.get(is_active=True) == small_dataset
    page = staff_client.get(job_url(job)).content.decode()
    assert "The job failed; the data was not changed." in page
    assert escape(job.error) in page


@pytest.mark.django_db
def test_an_unexpected_error_is_recorded_on_the_job_and_raised_to_the_worker(
    staff_client, run_tasks, small_dataset, monkeypatch
):
    def broken(**kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(services, "forecast_runs_prune", broken)
    job = services.job_prune_enqueue(older_than_days=1)
    run_tasks()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "Unexpected error (ZeroDivisionError: a bug); see the worker's log."
    row = queue_row(job)
    assert (row.status, row.exception_class_path) == (
        TaskResultStatus.FAILED,
        "builtins.ZeroDivisionError",
    )
    assert "a bug" in row.traceback


@pytest.mark.django_db
def test_prune_from_the_admin_runs_as_a_job(staff_client, run_tasks, small_dataset):
    old = services.forecast_run_create(
        regions=[Region.objects.get(code=250)], start=2020, end=2021
    ).run
    new = services.forecast_run_create(
        regions=[Region.objects.get(code=250)], start=2020, end=2022
    ).run
    ForecastRun.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timezone.timedelta(days=40)
    )
    prune_url = reverse("admin:forecasts_forecastrun_prune")
    assert (
        prune_url
        in staff_client.get(reverse("admin:forecasts_forecastrun_changelist")).content.decode()
    )
    assert staff_client.post(prune_url, {"older_than_days": 0}).status_code == 400

    response = staff_client.post(prune_url, {"older_than_days": 30, "dry_run": "on"})
    dry = Job.objects.get()
    assert response.url == job_url(dry)
    run_tasks()
    dry.refresh_from_db()
    assert dry.result == {"count": 1, "dry_run": True}
    assert ForecastRun.objects.count() == 2

    staff_client.post(prune_url, {"older_than_days": 30})
    run_tasks()
    job = Job.objects.first()
    assert job.status == Job.Status.SUCCEEDED
    assert "Deleted 1 forecast run(s) older than 30 days." in (
        staff_client.get(job_url(job)).content.decode()
    )
    assert list(ForecastRun.objects.all()) == [new]


@pytest.mark.django_db
def test_jobs_list_in_the_admin(staff_client, small_dataset):
    job = services.job_prune_enqueue(older_than_days=9, dry_run=True)
    page = staff_client.get(reverse("admin:forecasts_job_changelist")).content.decode()
    assert "Count forecast runs older than 9 days" in page
    assert job_url(job) in page


# A worker killed mid-job


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@contextlib.contextmanager
def _worker_session(job):
    """On PostgreSQL, another session holds the job's lock as its live worker would."""
    if connection.vendor != "postgresql":
        yield
        return
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [jobs.JOB_LOCK_NAMESPACE, job.pk])
        yield
    finally:
        other.close()


def _wait_until_the_lock_is_released(job, seconds=10):
    """PostgreSQL frees a closed session's advisory locks when its backend process ends, a
    moment after the client has gone: wait for that, as a worker's death would be seen later."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s AND objid = %s",
                [jobs.JOB_LOCK_NAMESPACE, job.pk],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the killed worker's lock was not released")


def _claimed(job, pid):
    """The job as a worker left it when it was killed: running, its queue row claimed."""
    row = queue_row(job)
    row.claim("killed-worker")
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        worker_host=jobs.socket.gethostname(),
        worker_pid=pid,
    )


@pytest.mark.django_db
def test_a_job_whose_worker_was_killed_ends_failed_and_the_next_import_succeeds(
    staff_client, run_tasks, small_dataset, small_long_file
):
    before = list(YearlyPopulation.objects.order_by("pk").values_list("pk", "persons"))
    killed = services.job_import_enqueue(upload_path=_kept(small_long_file))
    other = None
    if connection.vendor == "postgresql":
        # a live worker holds the job's lock; killing it (closing its session) frees the lock
        other = connections.create_connection("default")
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [jobs.JOB_LOCK_NAMESPACE, killed.pk])
        _claimed(killed, pid=None)
    else:
        _claimed(killed, pid=_dead_pid())
    if other is not None:
        # still alive: the page shows it running
        assert "Running" in staff_client.get(job_url(killed)).content.decode()
        assert Job.objects.get(pk=killed.pk).status == Job.Status.RUNNING
        other.close()
        _wait_until_the_lock_is_released(killed)

    page = staff_client.get(job_url(killed)).content.decode()
    killed.refresh_from_db()
    assert killed.status == Job.Status.FAILED
    assert jobs.INTERRUPTED in page
    row = queue_row(killed)
    assert (row.status, row.exception_class_path) == (
        TaskResultStatus.FAILED,
        "forecasts.services.jobs.WorkerStopped",
    )
    assert list(YearlyPopulation.objects.order_by("pk").values_list("pk", "persons")) == before

    retry = services.job_import_enqueue(upload_path=_kept(small_long_file))
    run_tasks()
    retry.refresh_from_db()
    assert retry.status == Job.Status.SUCCEEDED
    assert retry.dataset.is_active


@pytest.mark.django_db
def test_a_job_of_a_live_worker_is_not_marked(small_dataset):
    job = services.job_prune_enqueue(older_than_days=5)
    _claimed(job, pid=jobs.os.getpid())
    if connection.vendor == "postgresql":
        jobs._lock(job, "pg_advisory_lock")  # this session stands for the live worker
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:  # another process looks
                cursor.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", [jobs.JOB_LOCK_NAMESPACE, job.pk]
                )
                assert cursor.fetchone()[0] is False
        finally:
            other.close()
            jobs._lock(job, "pg_advisory_unlock")
    else:
        assert services.jobs_mark_interrupted() == 0
        assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING


# The real worker command, on committed data (SQLite and PostgreSQL)


@pytest.mark.django_db(transaction=True)
def test_db_worker_batch_runs_the_queued_jobs(small_wide_file):
    services.dataset_import(source=str(small_wide_file))
    run = services.forecast_run_create(
        regions=[Region.objects.get(code=900)], start=2030, end=2031
    ).run
    rerun = services.job_rerun_enqueue(run_ids=[run.pk, 999_999])
    imported = services.job_import_enqueue(upload_path=_kept(small_wide_file))
    assert set(tasks.TASKS) == set(Job.Kind)

    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    rerun.refresh_from_db()
    imported.refresh_from_db()
    assert rerun.status == imported.status == Job.Status.SUCCEEDED
    (created,) = rerun.result["created"]
    assert created[0] == run.pk
    assert rerun.result["refused"] == [[999_999, "It was deleted before it could be re-run."]]
    assert imported.dataset.is_active
    assert queue_row(imported).status == TaskResultStatus.SUCCESSFUL
    assert queue_row(imported).return_value == {
        "dataset": imported.dataset.pk,
        "edition": "WPP2019",
    }
