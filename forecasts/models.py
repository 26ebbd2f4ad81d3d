"""What is stored: imported datasets, regions and their yearly populations, and forecast runs.

Region and YearlyPopulation hold the active dataset's data only; an import replaces them in one
transaction. Forecast runs keep their regions' codes and names and their results, so history stays
true after the data is refreshed.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from . import rules


class Dataset(models.Model):
    """One import of a WPP file: where it came from, what it held, and how the import went."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    edition = models.CharField(max_length=60, blank=True)
    source = models.CharField(max_length=1000)
    checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the file")
    file_format = models.CharField(max_length=20, blank=True)
    last_estimate_year = models.PositiveSmallIntegerField(null=True, blank=True)
    region_count = models.PositiveIntegerField(default=0)
    value_count = models.PositiveIntegerField(default=0)
    first_year = models.PositiveSmallIntegerField(null=True, blank=True)
    last_year = models.PositiveSmallIntegerField(null=True, blank=True)
    variants = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        get_latest_by = "started_at"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_dataset"
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(status="succeeded"),
                name="active_dataset_succeeded",
            ),
        ]

    def __str__(self):
        return f"{self.edition or 'Import'} #{self.pk} ({self.get_status_display().lower()})"


class RegionQuerySet(models.QuerySet):
    def with_data(self):
        return self.filter(first_year__isnull=False)

    def search(self, text):
        """Regions whose name contains ``text``, or whose code or ISO3 code is ``text``."""
        text = text.strip()
        if not text:
            return self
        match = Q(name__icontains=text) | Q(iso3__iexact=text)
        code = rules.region_code_or_none(text)
        if code is not None:
            match |= Q(code=code)
        return self.filter(match)


class Region(models.Model):
    """A location of the WPP file by its UN M49 code: a country, a region or a group.

    Heading rows (kind Label/Separator) keep the hierarchy and have no data. ``first_year`` and
    ``last_year`` span the region's Estimates; they are None for a region without any.
    """

    code = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=rules.NAME_MAX_LENGTH, db_index=True)
    kind = models.CharField(max_length=60, blank=True, db_index=True)
    parent = models.ForeignKey(
        "self",
        to_field="code",
        db_column="parent_code",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    iso3 = models.CharField("ISO3", max_length=3, blank=True)
    sort_order = models.PositiveIntegerField(default=0)
    first_year = models.PositiveSmallIntegerField(null=True, blank=True)
    last_year = models.PositiveSmallIntegerField(null=True, blank=True)

    objects = RegionQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__lte=rules.REGION_CODE_MAX), name="region_code_in_range"
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("forecasts:region_detail", args=[self.code])

    @property
    def has_data(self):
        return self.first_year is not None

    @property
    def is_heading(self):
        return self.kind in rules.HEADING_KINDS


class YearlyPopulationQuerySet(models.QuerySet):
    def for_region(self, region):
        return self.filter(region=region)

    def estimates(self):
        return self.filter(variant=rules.ESTIMATES)

    def variant(self, name):
        return self.filter(variant=name)

    def between(self, first_year=None, last_year=None):
        queryset = self
        if first_year is not None:
            queryset = queryset.filter(year__gte=first_year)
        if last_year is not None:
            queryset = queryset.filter(year__lte=last_year)
        return queryset


class YearlyPopulation(models.Model):
    """The population of a region in one variant and year, in persons."""

    region = models.ForeignKey(
        Region,
        to_field="code",
        db_column="region_code",
        on_delete=models.CASCADE,
        related_name="populations",
    )
    variant = models.CharField(max_length=rules.VARIANT_MAX_LENGTH)
    year = models.PositiveSmallIntegerField()
    persons = models.BigIntegerField()

    objects = YearlyPopulationQuerySet.as_manager()

    class Meta:
        ordering = ["region", "variant", "year"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "variant", "year"], name="one_value_per_region_variant_year"
            ),
            models.CheckConstraint(condition=Q(persons__gte=0), name="persons_not_negative"),
            models.CheckConstraint(
                condition=Q(year__gte=rules.YEAR_MIN, year__lte=rules.YEAR_MAX),
                name="population_year_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.region_id} {self.variant} {self.year}: {self.persons}"


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

    class Meta:
        ordering = ["-created_at", "-id"]
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

    def get_absolute_url(self):
        return reverse("forecasts:run_detail", args=[self.pk])

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

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="points")
    region_code = models.PositiveIntegerField(db_index=True)
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

    def __str__(self):
        return f"{self.region_code} {self.year}: {self.value}"


class BacktestRun(models.Model):
    """A backtest of many regions: the last ``holdout`` years of each history held out and forecast.

    ``lags`` is what was asked (None for "auto"); the summary fields are the totals of
    modeling.BacktestSummary: median MAPE (percent), coverage of the intervals (share 0 to 1)
    and the median error at each horizon (percent). ``interval`` says which intervals were scored:
    calibrated ones come from a table built only from years before the held-out ones.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="backtest_runs")
    method = models.CharField(max_length=10, choices=METHOD_CHOICES)
    lags = models.PositiveSmallIntegerField(null=True, blank=True)
    holdout = models.PositiveSmallIntegerField()
    level = models.FloatField(default=rules.DEFAULT_LEVEL)
    interval = models.CharField(
        max_length=10, choices=ForecastRun.Interval.choices, default=ForecastRun.Interval.MODEL
    )
    region_count = models.PositiveIntegerField(default=0)
    median_mape = models.FloatField(null=True, blank=True)
    mean_mape = models.FloatField(null=True, blank=True)
    coverage = models.FloatField(null=True, blank=True)
    interval_score = models.FloatField(
        null=True, blank=True, help_text="Median across regions of the interval score, percent"
    )
    median_errors_by_horizon = models.JSONField(default=list, blank=True)
    failures = models.JSONField(
        default=list, blank=True, help_text='[{"code", "name", "error"}] of regions not backtested'
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    duration_ms = models.FloatField()

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        constraints = [
            models.CheckConstraint(
                condition=Q(lags__isnull=True)
                | Q(lags__gte=rules.LAGS_MIN, lags__lte=rules.LAGS_MAX),
                name="backtest_lags_in_range",
            ),
            models.CheckConstraint(
                condition=Q(method__in=list(rules.METHODS)), name="backtest_method_known"
            ),
            models.CheckConstraint(
                condition=Q(holdout__gte=rules.HOLDOUT_MIN, holdout__lte=rules.HOLDOUT_MAX),
                name="backtest_holdout_in_range",
            ),
            models.CheckConstraint(
                condition=Q(coverage__isnull=True) | Q(coverage__gte=0, coverage__lte=1),
                name="backtest_coverage_share",
            ),
        ]

    def __str__(self):
        return f"Backtest #{self.pk}: {self.method}, lags {self.lags_choice}, {self.holdout} years"

    @property
    def lags_choice(self) -> int | str:
        return rules.LAGS_AUTO if self.lags is None else self.lags


class BacktestResult(models.Model):
    """One region's backtest: MAPE and errors by horizon in percent, coverage as a share."""

    run = models.ForeignKey(BacktestRun, on_delete=models.CASCADE, related_name="results")
    region_code = models.PositiveIntegerField(db_index=True)
    region_name = models.CharField(max_length=rules.NAME_MAX_LENGTH)
    lags = models.PositiveSmallIntegerField(
        help_text="The lags fitted (the AIC's choice for auto)."
    )
    mape = models.FloatField()
    coverage = models.FloatField()
    interval_score = models.FloatField(null=True, blank=True)
    errors_by_horizon = models.JSONField()

    class Meta:
        ordering = ["run", "mape", "region_code"]
        constraints = [
            models.UniqueConstraint(fields=["run", "region_code"], name="one_result_per_backtest"),
            models.CheckConstraint(condition=Q(mape__gte=0), name="backtest_mape_not_negative"),
            models.CheckConstraint(
                condition=Q(coverage__gte=0, coverage__lte=1), name="backtest_result_coverage"
            ),
        ]

    def __str__(self):
        return f"{self.region_name}: {self.mape:.2f}%"


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
