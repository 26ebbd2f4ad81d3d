"""Backtests: how well a model forecast years already recorded, per region and in total."""

from django.db import models
from django.db.models import Q

from forecasts import modeling, rules

from .data import Dataset
from .runs import METHOD_CHOICES, ForecastRun


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
    model_version = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Version of the method's arithmetic that was backtested (empty: before versions "
        "were recorded)",
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

    @property
    def is_current(self) -> bool:
        """Whether it backtested the method as the code computes it now: figures of an earlier
        version describe another model (see modeling.versions)."""
        return self.model_version == modeling.model_version(self.method)


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
