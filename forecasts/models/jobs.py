"""Background jobs the admin starts: their state, progress and result."""

from django.conf import settings
from django.db import models

from .data import Dataset


class Job(models.Model):
    """Background work an operator asked for in the admin: an import, re-runs or a prune.

    The task queue's own row (django-tasks-db's DBTaskResult, ``task_id``) says whether a worker
    ran the task; this row says, in the operator's words, what the job is, how it ended and with
    what result or error. Live progress (bytes read, runs done) is kept in the "progress" cache,
    not here: during an import the database is inside the import's transaction (and SQLite
    allows no other writer), so the job page could not see progress written to a row.
    """

    class Kind(models.TextChoices):
        IMPORT = "import", "Data import"
        RERUN = "rerun", "Re-run forecast runs"
        PRUNE = "prune", "Prune forecast runs"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    kind = models.CharField(max_length=10, choices=Kind.choices)
    description = models.CharField(max_length=1000)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Where the running task lives, so a job whose worker was killed can be told from a live one.
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=1000, blank=True, help_text="The outcome in one line.")
    error = models.TextField(blank=True)
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display().lower()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
