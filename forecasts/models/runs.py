"""Forecast runs and their points: what was asked, on which data, and the results, kept as they were."""

import functools
import hashlib

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Q
from django.urls import get_script_prefix, get_urlconf, reverse

from forecasts import rules

from .data import Dataset

METHOD_CHOICES = [(name, name) for name in rules.METHODS]
INTERVAL_KINDS = ["model", "calibrated"]


class ForecastRun(models.Model):
    """A forecast someone asked for, with the settings, the dataset it was fitted on and its results.

    ``regions`` lists {"code", "name", "lags", "last_recorded_year", "history_note"} in the order
    asked, "lags" being the order fitted to that region (the AIC's choice when the run asked for
    "auto"). ``lags`` is what was asked:
    a number, or None for "auto" (see ``lags_choice``). ``interval`` says whether the intervals
    after the history are calibrated on backtest errors or the model's own. Results never change
    after they are stored.
    """

    class Interval(models.TextChoices):
        MODEL = "model", "model-based"
        CALIBRATED = "calibrated", "calibrated"

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="forecast_runs")
    regions = models.JSONField()
    start_year = models.PositiveSmallIntegerField()
    end_year = models.PositiveSmallIntegerField()
    method = models.CharField(max_length=10, choices=METHOD_CHOICES, default=rules.ORIGINAL_METHOD)
    lags = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=rules.ORIGINAL_LAGS,
        help_text='Lags asked for; empty means "auto" (chosen per region by AIC).',
    )
    level = models.FloatField(default=rules.DEFAULT_LEVEL)
    interval = models.CharField(max_length=10, choices=Interval.choices, default=Interval.MODEL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    duration_ms = models.FloatField()
    # The settings in one indexed value (``settings_key_of``), set on every save: see Meta.
    settings_key = models.CharField(max_length=64, editable=False, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        # services.forecast_run_find looks up a run by its settings before storing one: by
        # (dataset, settings_key) it is one index probe. Indexing the years, method and level
        # alone left the regions to compare in Python, run by run, and a busy site stores many
        # runs of the same years: the lookup grew with every run stored.
        indexes = [models.Index(fields=["dataset", "settings_key"], name="run_settings_key")]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_year__lte=models.F("end_year")), name="run_start_not_after_end"
            ),
            models.CheckConstraint(
                condition=Q(start_year__gte=rules.YEAR_MIN, end_year__lte=rules.YEAR_MAX),
                name="run_years_in_range",
            ),
            models.CheckConstraint(
                condition=Q(lags__isnull=True)
                | Q(lags__gte=rules.LAGS_MIN, lags__lte=rules.LAGS_MAX),
                name="run_lags_in_range",
            ),
            models.CheckConstraint(
                condition=Q(level__gt=rules.LEVEL_MIN_EXCLUSIVE, level__lte=rules.LEVEL_MAX),
                name="run_level_in_range",
            ),
            models.CheckConstraint(
                condition=Q(method__in=list(rules.METHODS)), name="run_method_known"
            ),
            models.CheckConstraint(
                condition=Q(interval__in=INTERVAL_KINDS), name="run_interval_known"
            ),
        ]

    def __str__(self):
        names = ", ".join(region["name"] for region in self.regions)
        return f"Run #{self.pk}: {names}, {self.start_year}–{self.end_year}"

    def save(self, *args, **kwargs):
        self.fill_settings_key()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return run_path(self.pk)

    def fill_settings_key(self) -> None:
        """Set ``settings_key`` from the run's settings (save does; so does a raw insert)."""
        self.settings_key = self.settings_key_of(
            codes=self.region_codes,
            start=self.start_year,
            end=self.end_year,
            method=self.method,
            lags=self.lags,
            level=self.level,
        )

    @staticmethod
    def settings_key_of(*, codes, start, end, method, lags, level) -> str:
        """What makes two runs on the same data the same question, as one fixed-size value: the
        SHA-256 of "900,250|2030|2035|damped|3|0.95" (lags None, asked as "auto", written
        "auto"). A digest, as `forecast --all --save` stores runs of every region (a key of
        thousands of characters, too long for an index entry)."""
        regions = ",".join(str(int(code)) for code in codes)
        lags = "auto" if lags is None else int(lags)
        text = f"{regions}|{int(start)}|{int(end)}|{method}|{lags}|{float(level)!r}"
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def region_codes(self):
        return [region["code"] for region in self.regions]

    @property
    def lags_choice(self) -> int | str:
        """The lags as the services take them: a number, or rules.LAGS_AUTO."""
        return rules.LAGS_AUTO if self.lags is None else self.lags


class ForecastPointQuerySet(models.QuerySet):
    def for_region(self, code):
        return self.filter(region_code=code)


class ForecastPoint(models.Model):
    """One region's prediction for one year of a run, in persons (see modeling.Point)."""

    # No index of its own: the unique constraint below starts with the run, so it serves every
    # lookup and cascade by run, and one index fewer to update is a cheaper insert of a run.
    run = models.ForeignKey(
        ForecastRun, on_delete=models.CASCADE, related_name="points", db_index=False
    )
    region_code = models.PositiveIntegerField()
    year = models.PositiveSmallIntegerField()
    value = models.FloatField(null=True, blank=True)
    lower = models.FloatField(null=True, blank=True)
    upper = models.FloatField(null=True, blank=True)
    actual = models.FloatField(null=True, blank=True)

    objects = ForecastPointQuerySet.as_manager()

    class Meta:
        ordering = ["run", "region_code", "year"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "region_code", "year"], name="one_point_per_run_region_year"
            ),
        ]
        # A region's points, and its newest run at the end of them: the region page's cache key
        # (page_cache.newest_run_id) is one step down this index.
        indexes = [models.Index(fields=["region_code", "run"], name="point_region_run")]

    def __str__(self):
        return f"{self.region_code} {self.year}: {self.value}"


def run_path(pk: int) -> str:
    """The path of run ``pk``'s page, as reverse("forecasts:run_detail") gives it.

    Why not reverse() each time: it walks the URL namespaces anew for every call (55 us of the
    site's form POST, which redirects to the run it stored, and once per row of the run list);
    the path is reversed once per script prefix and URLconf, and the id put in its place."""
    before, after = _run_path_around_id(get_script_prefix(), get_urlconf())
    return f"{before}{pk}{after}"


_PATH_MARKER = 987654321987  # an id no URL pattern holds elsewhere


@functools.lru_cache(maxsize=16)
def _run_path_around_id(script_prefix: str, urlconf) -> tuple[str, str]:
    """(text before the id, text after it) of the run page's path under this prefix and URLconf
    (reverse reads both from the request's context, so they key the cache)."""
    path = reverse("forecasts:run_detail", args=[_PATH_MARKER], urlconf=urlconf)
    before, marker, after = path.partition(str(_PATH_MARKER))
    if not marker:  # a run_detail pattern that does not carry the id as written
        raise ImproperlyConfigured(f"The run page's path {path!r} does not hold the run's id.")
    return before, after
