"""The run budget's counts on PostgreSQL: units each client used in the current window."""

from django.db import models


class RunBudgetUse(models.Model):
    """Work units a client has used of its run budget in one window (forecasts.throttling).

    Counted on PostgreSQL inside the statement that stores a run (services.runs), so that the
    budget costs no round trip of its own; other databases count it in the shared cache. The
    client is a keyed hash of its address or user id, not the address itself, and a window's rows
    are deleted once the next window has begun. The table is UNLOGGED (migration 0013): a count
    that lasts a minute needs no write-ahead log, and a crash that empties it gives every client
    a fresh window, as a new window does.
    """

    pk = models.CompositePrimaryKey("window_start", "client")
    window_start = models.BigIntegerField(help_text="Start of the window, in Unix seconds")
    client = models.CharField(max_length=64, help_text="Keyed hash of the client's identity")
    used = models.PositiveIntegerField()

    class Meta:
        verbose_name = "run budget use"

    def __str__(self) -> str:
        return f"{self.client[:8]}… used {self.used} in the window from {self.window_start}"
