"""The use cases every front door shares: import a WPP file, compute and store forecasts.

Views, API views, admin actions and management commands parse their input, then call one of these.
"""

import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DataError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from . import ingest, modeling, selectors, wpp
from .models import Dataset, ForecastPoint, ForecastRun, Region

IMPORT_LOCK_ID = 4_242_2019


class DatasetImportError(Exception):
    """An import failed; nothing changed. The message is meant for the person who asked."""

    def __init__(self, message, *, dataset=None):
        super().__init__(message)
        self.dataset = dataset


class ImportBusyError(DatasetImportError):
    """Another import holds the lock."""


@dataclass(frozen=True)
class RegionForecast:
    code: int
    name: str
    lags: int
    level: float
    points: list[modeling.Point]


def dataset_import(
    *,
    source: str,
    last_estimate_year: int | None = None,
    progress_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Dataset:
    """Import a WPP file (local path or http(s) URL) and make it the active dataset.

    The data is replaced in one transaction: on any error the previous data stays whole, the
    attempt is recorded as a failed Dataset, and DatasetImportError says what was wrong.
    ``progress_start`` receives the file's size in bytes, ``progress`` the bytes read so far.
    """
    dataset = Dataset.objects.create(source=str(source)[:1000])
    started = time.perf_counter()
    try:
        path = _local_file(source)
        dataset.checksum = _sha256(path)
        reader = wpp.read(path, last_estimate_year=last_estimate_year)
        dataset.edition, dataset.file_format = reader.edition, reader.file_format
        dataset.last_estimate_year = reader.last_estimate_year
        if progress_start:
            progress_start(reader.total_bytes)
        with transaction.atomic():
            _take_import_lock()
            counts = ingest.replace_data(reader, progress=progress)
            Dataset.objects.filter(is_active=True).update(is_active=False)
            _record_success(dataset, counts, seconds=time.perf_counter() - started)
    except (
        wpp.WppFormatError,
        ImportBusyError,
        IntegrityError,
        DataError,
        OperationalError,
    ) as error:
        failure = _import_failure(error)
        dataset.status = Dataset.Status.FAILED
        dataset.error = str(failure)
        dataset.finished_at = timezone.now()
        dataset.duration_seconds = time.perf_counter() - started
        dataset.save()
        failure.dataset = dataset
        raise failure from error
    return dataset


def _local_file(source) -> Path:
    text = str(source)
    if text.startswith(("http://", "https://")):
        return wpp.download(text, settings.WPP_CACHE_DIR)
    if "://" in text:
        raise wpp.WppFormatError(
            f"Unsupported source {text!r}: give a file path or an http(s) URL."
        )
    return Path(text)


def _sha256(path: Path) -> str:
    if not path.is_file():
        raise wpp.WppFormatError(f"No such file: {path}")
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _take_import_lock():
    """One import at a time. PostgreSQL: an advisory lock; SQLite: its single writer lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [IMPORT_LOCK_ID])
            if not cursor.fetchone()[0]:
                raise ImportBusyError(_BUSY_MESSAGE)


_BUSY_MESSAGE = "Another import is running; nothing was changed. Try again when it has finished."


def _record_success(dataset, counts: ingest.LoadCounts, *, seconds):
    dataset.region_count = counts.regions
    dataset.value_count = counts.values
    dataset.first_year, dataset.last_year = counts.first_year, counts.last_year
    dataset.variants = counts.variants
    dataset.status = Dataset.Status.SUCCEEDED
    dataset.is_active = True
    dataset.finished_at = timezone.now()
    dataset.duration_seconds = seconds
    dataset.save()


def _import_failure(error) -> DatasetImportError:
    """The DatasetImportError to show for what went wrong during an import."""
    if isinstance(error, ImportBusyError):
        return error
    if isinstance(error, wpp.WppFormatError):
        return DatasetImportError(str(error))
    if isinstance(error, OperationalError) and "locked" in str(error):
        return ImportBusyError(_BUSY_MESSAGE)
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return DatasetImportError(f"The data breaks a database rule; nothing was changed ({detail}).")


def forecast_compute(
    *,
    regions: list[Region],
    start: int,
    end: int,
    lags: int = modeling.DEFAULT_LAGS,
    level: float = modeling.DEFAULT_LEVEL,
) -> list[RegionForecast]:
    """Forecast each region's Estimates for [start, end]; values are persons.

    Raises modeling.ForecastError, prefixed with the region's name, when a series cannot be fitted.
    """
    series = selectors.regions_estimates(codes=[region.code for region in regions])
    results = []
    for region in regions:
        years, persons = series.get(region.code, ([], []))
        try:
            result = modeling.forecast(years, persons, start=start, end=end, lags=lags, level=level)
        except modeling.ForecastError as error:
            raise modeling.ForecastError(f"{region.name}: {error}") from None
        results.append(
            RegionForecast(
                code=region.code,
                name=region.name,
                lags=result.lags,
                level=level,
                points=result.points,
            )
        )
    return results


@transaction.atomic
def forecast_run_create(
    *,
    regions: list[Region],
    start: int,
    end: int,
    lags: int = modeling.DEFAULT_LAGS,
    level: float = modeling.DEFAULT_LEVEL,
) -> ForecastRun:
    """Compute a forecast and store it with its settings and the dataset it was fitted on."""
    dataset = selectors.dataset_active()
    if dataset is None:
        raise modeling.ForecastError("No data is loaded yet: import a WPP file first.")
    started = time.perf_counter()
    results = forecast_compute(regions=regions, start=start, end=end, lags=lags, level=level)
    run = ForecastRun.objects.create(
        dataset=dataset,
        regions=[{"code": region.code, "name": region.name} for region in regions],
        start_year=start,
        end_year=end,
        lags=lags,
        level=level,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    ForecastPoint.objects.bulk_create(
        ForecastPoint(
            run=run,
            region_code=result.code,
            year=point.year,
            value=point.value,
            lower=point.lower,
            upper=point.upper,
            actual=point.actual,
        )
        for result in results
        for point in result.points
    )
    return run


def forecast_run_results(run: ForecastRun) -> list[RegionForecast]:
    """A stored run's results in the shape forecast_compute returns, regions in the order asked."""
    points_by_region = {}
    for point in run.points.order_by("region_code", "year"):
        points_by_region.setdefault(point.region_code, []).append(
            modeling.Point(
                year=point.year,
                value=point.value,
                lower=point.lower,
                upper=point.upper,
                actual=point.actual,
            )
        )
    return [
        RegionForecast(
            code=region["code"],
            name=region["name"],
            lags=run.lags,
            level=run.level,
            points=points_by_region.get(region["code"], []),
        )
        for region in run.regions
    ]


# --- Admin: import an upload, re-run and prune forecast runs (issue 5) -----------------------------


def dataset_import_upload(*, upload, last_estimate_year: int | None = None) -> Dataset:
    """Import an uploaded WPP file (a Django UploadedFile) as dataset_import imports a path.

    The file is placed under its own name in a temporary folder, because the edition is read from
    the name (WPP2024_...); the folder is removed afterwards. The Dataset's source records
    "upload: <name>", for a failed attempt too. Raises DatasetImportError as dataset_import does.
    """
    name = _upload_file_name(upload.name)
    label = f"upload: {name}"[:1000]
    with tempfile.TemporaryDirectory(
        prefix="wpp-upload-", dir=settings.FILE_UPLOAD_TEMP_DIR
    ) as folder:
        path = Path(folder) / name
        _place_upload(upload, path)
        try:
            dataset = dataset_import(source=str(path), last_estimate_year=last_estimate_year)
        except DatasetImportError as error:
            if error.dataset is not None:
                _label_source(error.dataset, label)
            raise
    _label_source(dataset, label)
    return dataset


def _upload_file_name(name: str) -> str:
    """The upload's own file name, reduced to characters that are safe in a path."""
    safe = "".join(char if char.isalnum() or char in "._-" else "_" for char in Path(name).name)
    return safe.lstrip(".") or "upload.csv"


def _place_upload(upload, path: Path) -> None:
    """Put the upload at ``path``: a hard link to Django's temporary file if it has one, else a copy."""
    temporary_file_path = getattr(upload, "temporary_file_path", None)
    if temporary_file_path is not None:
        try:
            path.hardlink_to(temporary_file_path())
            return
        except OSError:
            pass  # another filesystem, or links not allowed: copy instead
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def _label_source(dataset: Dataset, label: str) -> None:
    dataset.source = label
    dataset.save(update_fields=["source"])


def forecast_run_rerun(*, run: ForecastRun) -> ForecastRun:
    """Store a new run with ``run``'s regions and settings, fitted on the active dataset.

    ``run`` itself stays as it was. Raises selectors.RegionLookupError naming the run's regions
    that the current data lacks, modeling.ForecastError when a series cannot be fitted.
    """
    found = Region.objects.in_bulk(run.region_codes, field_name="code")
    missing = [
        f"{region['name']} ({region['code']})"
        for region in run.regions
        if region["code"] not in found or not found[region["code"]].has_data
    ]
    if missing:
        raise selectors.RegionLookupError(
            "Not in the current data: " + ", ".join(missing) + "; import a dataset that has them."
        )
    return forecast_run_create(
        regions=[found[code] for code in run.region_codes],
        start=run.start_year,
        end=run.end_year,
        lags=run.lags,
        level=run.level,
    )


@transaction.atomic
def forecast_runs_prune(*, older_than_days: int, dry_run: bool = False) -> int:
    """Delete the forecast runs created more than ``older_than_days`` days ago, with their points.

    Returns how many runs were deleted (or, with ``dry_run``, would be).
    """
    runs = ForecastRun.objects.filter(
        created_at__lt=timezone.now() - timedelta(days=older_than_days)
    )
    if dry_run:
        return runs.count()
    _, deleted = runs.delete()
    return deleted.get(ForecastRun._meta.label, 0)
