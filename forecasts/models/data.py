"""The active dataset's data: the imports, the regions and their yearly populations."""

from django.db import models
from django.db.models import Q
from django.urls import reverse

from forecasts import rules


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


class DatasetCalibration(models.Model):
    """The default (damped) model's calibration table of a dataset as JSON, computed at import,
    so that no process spends a second building it on its first forecast (services.forecasts).

    A table of its own, not a Dataset field: it is ~250 KB, and every run list joins Dataset.
    """

    dataset = models.OneToOneField(
        Dataset, on_delete=models.CASCADE, primary_key=True, related_name="calibration"
    )
    damped = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"calibration of dataset {self.dataset_id}"


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
