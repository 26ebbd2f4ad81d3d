"""The use cases every front door shares: import a WPP file, compute and store forecasts.

Views, API views, admin actions and management commands parse their input, then call one of these.
"""

import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import DataError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from . import backtesting, ingest, modeling, selectors, wpp
from .models import (
    BacktestResult,
    BacktestRun,
    Dataset,
    ForecastPoint,
    ForecastRun,
    Region,
)

IMPORT_LOCK_ID = 4_242_2019
# PostgreSQL advisory locks (namespace, Dataset id): held by each running import's session, so
# another process can tell a live import from one whose process stopped.
RUNNING_LOCK_NAMESPACE = 4242
MAX_FILE_NAME_BYTES = 255


class DatasetImportError(Exception):
    """An import failed; nothing changed. The message is meant for the person who asked."""

    def __init__(self, message, *, dataset=None):
        super().__init__(message)
        self.dataset = dataset


class ImportBusyError(DatasetImportError):
    """Another import holds the lock."""


@dataclass(frozen=True)
class RegionForecast:
    """One region's forecast: ``lags`` is the order fitted (the AIC's choice for "auto").

    ``interval`` is "calibrated" when the intervals after the history come from backtest errors
    (backtesting.calibrated_forecast), "model" when they are AutoReg's own. ``un`` is the UN's
    projection for the same years when the data has one (selectors.un_projections), and
    ``backtest_mape`` the region's latest backtest error (percent) with the same method and lags.
    """

    code: int
    name: str
    lags: int
    level: float
    points: list[modeling.Point]
    method: str = modeling.ORIGINAL_METHOD
    interval: str = "model"
    un: "selectors.UnProjection | None" = None
    backtest_mape: float | None = None

    @property
    def interval_label(self) -> str:
        return ForecastRun.Interval(self.interval).label

    @property
    def un_rows(self) -> list[dict]:
        """Per forecast year with a UN value: the UN Medium and band, and how far the forecast is
        from the Medium in percent of it."""
        if self.un is None:
            return []
        rows = []
        for point in self.points:
            medium, lower, upper = self.un.by_year.get(point.year, (None, None, None))
            if medium is None:
                continue
            difference = None
            if point.value is not None and medium:
                difference = (point.value - medium) / medium * 100
            rows.append(
                {
                    "year": point.year,
                    "forecast": point.value,
                    "medium": medium,
                    "lower": lower,
                    "upper": upper,
                    "difference_percent": difference,
                }
            )
        return rows


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
    dataset = _start_import(source)
    started = time.perf_counter()
    try:
        _run_import(dataset, source, last_estimate_year, progress_start, progress, started)
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
    finally:
        _release_running_lock(dataset)
    return dataset


def _run_import(dataset, source, last_estimate_year, progress_start, progress, started):
    """Fetch, read and load the file into ``dataset``'s import; raises what dataset_import maps."""
    path = _local_file(source)
    dataset.checksum = _sha256(path)
    reader = wpp.read(
        path,
        last_estimate_year=last_estimate_year,
        max_uncompressed_bytes=settings.WPP_MAX_UNCOMPRESSED_BYTES,
    )
    dataset.edition, dataset.file_format = reader.edition, reader.file_format
    dataset.last_estimate_year = reader.last_estimate_year
    if progress_start:
        progress_start(reader.total_bytes)
    with transaction.atomic():
        _take_import_lock()
        _mark_interrupted_imports(exclude=dataset)
        counts = ingest.replace_data(reader, progress=progress)
        Dataset.objects.filter(is_active=True).update(is_active=False)
        _record_success(dataset, counts, seconds=time.perf_counter() - started)
    cache.delete(selectors.DATASET_GENERATION_KEY)


def _start_import(source) -> Dataset:
    """The import's 'running' row, created with its liveness lock held (PostgreSQL).

    Row and lock come in one transaction, so no other import ever sees the row without the lock
    and mistakes it for one whose process stopped.
    """
    with transaction.atomic():
        dataset = Dataset.objects.create(source=str(source)[:1000])
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_lock(%s, %s)", [RUNNING_LOCK_NAMESPACE, dataset.pk]
                )
    return dataset


def _release_running_lock(dataset: Dataset) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [RUNNING_LOCK_NAMESPACE, dataset.pk]
            )


def _local_file(source) -> Path:
    text = str(source)
    if text.startswith(("http://", "https://")):
        return wpp.download(
            text,
            settings.WPP_CACHE_DIR,
            max_bytes=settings.WPP_DOWNLOAD_MAX_BYTES,
            deadline_seconds=settings.WPP_DOWNLOAD_TIMEOUT_SECONDS,
            allow_private=settings.WPP_DOWNLOAD_ALLOW_PRIVATE,
        )
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


def _mark_interrupted_imports(*, exclude: Dataset):
    """Mark failed the other 'running' imports whose process stopped.

    On PostgreSQL a live import holds its liveness lock (it may still be downloading or reading,
    before it waits for the import lock), so a row is marked only when its lock is free. SQLite
    serves one process in development: any other running row there was killed.
    """
    running = Dataset.objects.filter(status=Dataset.Status.RUNNING).exclude(pk=exclude.pk)
    if connection.vendor == "postgresql":
        stopped = [pk for pk in running.values_list("pk", flat=True) if _nobody_holds(pk)]
        running = running.filter(pk__in=stopped)
    running.update(
        status=Dataset.Status.FAILED,
        error="Interrupted before it finished (the process stopped); nothing was changed.",
    )


def _nobody_holds(dataset_pk: int) -> bool:
    """Whether no session holds the import's liveness lock (taken here, then released at once)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUNNING_LOCK_NAMESPACE, dataset_pk])
        free = cursor.fetchone()[0]
        if free:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [RUNNING_LOCK_NAMESPACE, dataset_pk]
            )
    return free


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
    method: str = modeling.RECOMMENDED_METHOD,
    lags: int | str = modeling.RECOMMENDED_LAGS,
    level: float = modeling.DEFAULT_LEVEL,
) -> list[RegionForecast]:
    """Forecast each region's Estimates for [start, end] in one batched fit; values are persons.

    ``method`` is one of modeling.METHODS, ``lags`` a number or modeling.LAGS_AUTO. Every method
    but the original app's ("levels") gets calibrated intervals when the active dataset allows a
    calibration table (forecast_calibration). Raises modeling.ForecastError for settings out of
    range, or naming every region whose series cannot be fitted ("France: ...; WORLD: ...").
    There is no limit on the number of regions here: the limit of modeling.MAX_REGIONS is
    selectors.regions_for_forecast's, for interactive requests.
    """
    series = selectors.regions_estimates(codes=[region.code for region in regions])
    histories = [series.get(region.code, ([], [])) for region in regions]
    outcomes = modeling.forecast_many(
        histories, start=start, end=end, lags=lags, level=level, method=method
    )
    failures = [
        f"{region.name}: {outcome}"
        for region, outcome in zip(regions, outcomes, strict=True)
        if isinstance(outcome, modeling.ForecastError)
    ]
    if failures:
        raise modeling.ForecastError("; ".join(failures))
    dataset = selectors.dataset_active()
    table = None
    # A level so small that its normal quantile is 0 leaves no standard error to scale.
    if method != modeling.ORIGINAL_METHOD and dataset and modeling.normal_quantile(level) > 0:
        table = forecast_calibration(dataset=dataset, method=method, lags=lags)
    results = []
    for region, outcome, (years, _) in zip(regions, outcomes, histories, strict=True):
        if table is not None:
            outcome = backtesting.calibrated_forecast(
                outcome, table, last_year=years[-1], key=region.code
            )
        results.append(
            RegionForecast(
                code=region.code,
                name=region.name,
                lags=outcome.lags,
                level=level,
                points=outcome.points,
                method=method,
                interval=ForecastRun.Interval.CALIBRATED if table else ForecastRun.Interval.MODEL,
            )
        )
    return _with_comparisons(results, dataset=dataset, method=method, lags=lags)


def _with_comparisons(results, *, dataset, method, lags) -> list[RegionForecast]:
    """The results with the UN projection and the latest backtest error of each region added."""
    if dataset is None or not results:
        return results
    codes = [result.code for result in results]
    years = [point.year for point in results[0].points]
    projections = selectors.un_projections(
        dataset=dataset, codes=codes, first_year=min(years), last_year=max(years)
    )
    mapes = selectors.region_backtest_mapes(dataset=dataset, method=method, lags=lags, codes=codes)
    return [
        replace(result, un=projections.get(result.code), backtest_mape=mapes.get(result.code))
        for result in results
    ]


CALIBRATION_CACHE_SECONDS = None  # forever: the key names the dataset, a new import a new key


def forecast_calibration(
    *, dataset: Dataset, method: str, lags: int | str
) -> backtesting.CalibrationTable | None:
    """The calibration table for forecasts of ``method``/``lags`` from ``dataset``'s Estimates.

    Built by backtesting.calibrate from every region's history, with rolling origins from 30 to
    10 years before the last estimate (backtesting.calibration_origins), on first use, then kept
    in the cache under the dataset's id and checksum. Building it takes about 0.4 s on WPP2019
    for a fixed lag order and 1.3 s for "auto" (the backtest command builds it ahead).
    None when the data is too short to calibrate (the forecast keeps the model's intervals).
    """
    key = f"forecasts:calibration:{dataset.pk}:{dataset.checksum}:{method}:{lags}"
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    histories = selectors.regions_estimates(
        codes=Region.objects.with_data().values_list("code", flat=True)
    )
    table = False
    if histories:
        last_year = max(years[-1] for years, _ in histories.values())
        try:
            table = backtesting.calibrate(
                histories,
                origins=backtesting.calibration_origins(last_year),
                lags=lags,
                method=method,
            )
        except modeling.ForecastError:
            table = False
    cache.set(key, table, CALIBRATION_CACHE_SECONDS)
    return table or None


POINTS_BATCH_SIZE = 5000


@transaction.atomic
def forecast_run_create(
    *,
    regions: list[Region],
    start: int,
    end: int,
    method: str = modeling.RECOMMENDED_METHOD,
    lags: int | str = modeling.RECOMMENDED_LAGS,
    level: float = modeling.DEFAULT_LEVEL,
) -> ForecastRun:
    """Compute a forecast and store it with its settings and the dataset it was fitted on.

    The run records the lags asked for (None for "auto") and, in each ``regions`` entry, the
    lags fitted to that region.
    """
    dataset = selectors.dataset_active()
    if dataset is None:
        raise modeling.ForecastError("No data is loaded yet: import a WPP file first.")
    started = time.perf_counter()
    results = forecast_compute(
        regions=regions, start=start, end=end, method=method, lags=lags, level=level
    )
    run = ForecastRun.objects.create(
        dataset=dataset,
        regions=[
            {"code": result.code, "name": result.name, "lags": result.lags} for result in results
        ],
        start_year=start,
        end_year=end,
        method=method,
        lags=None if lags == modeling.LAGS_AUTO else lags,
        level=level,
        interval=results[0].interval if results else ForecastRun.Interval.MODEL,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    ForecastPoint.objects.bulk_create(
        (
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
        ),
        batch_size=POINTS_BATCH_SIZE,
    )
    return run


def forecast_run_results(run: ForecastRun) -> list[RegionForecast]:
    """A stored run's results in the shape forecast_compute returns, regions in the order asked.

    The UN projection and backtest errors beside them come from the run's dataset while it is the
    active one; a run on replaced data shows its own results only.
    """
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
    results = [
        RegionForecast(
            code=region["code"],
            name=region["name"],
            lags=region.get("lags", run.lags),
            level=run.level,
            points=points_by_region.get(region["code"], []),
            method=run.method,
            interval=run.interval,
        )
        for region in run.regions
    ]
    dataset = selectors.dataset_active()
    if dataset is None or dataset.pk != run.dataset_id:
        return results
    return _with_comparisons(results, dataset=dataset, method=run.method, lags=run.lags_choice)


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
    """The upload's own file name, reduced to characters that are safe in a path, in 255 bytes."""
    safe = "".join(char if char.isalnum() or char in "._-" else "_" for char in Path(name).name)
    return _within_bytes(safe.lstrip(".") or "upload.csv", MAX_FILE_NAME_BYTES)


def _within_bytes(name: str, limit: int) -> str:
    """File systems cap a name in bytes, not characters (150 "é" are 300): cut the stem and keep
    the extension, which says whether the file is gzipped."""
    if len(name.encode()) <= limit:
        return name
    ending = next((end for end in (".csv.gz", ".csv", ".gz") if name.lower().endswith(end)), "")
    suffix = name[len(name) - len(ending) :]
    stem = name[: len(name) - len(suffix)].encode()[: limit - len(suffix.encode())]
    return stem.decode(errors="ignore") + suffix


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
        method=run.method,
        lags=run.lags_choice,
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


# --- Backtests (issue 6) ---------------------------------------------------------------------------


@transaction.atomic
def backtest_run_create(
    *,
    regions: list[Region] | None = None,
    holdout: int = backtesting.DEFAULT_HOLDOUT,
    method: str = modeling.RECOMMENDED_METHOD,
    lags: int | str = modeling.RECOMMENDED_LAGS,
    level: float = modeling.DEFAULT_LEVEL,
) -> BacktestRun:
    """Backtest ``regions`` (None: every region with data) on the active dataset and store it.

    Each region's last ``holdout`` years are held out, the rest fitted and the held-out years
    forecast (backtesting.backtest_many, one batched fit). Methods other than "levels" are scored
    with calibrated intervals, from a table built only on years before the held-out ones, so the
    coverage is what a forecast made then would have had. Regions that cannot be backtested are
    listed in the run's ``failures``. The forecasts' calibration table for the same method and lags
    is built into the cache too, so that a shared cache (Redis) serves it to every process.
    Raises modeling.ForecastError for settings out of range or when no data is loaded.
    """
    dataset = selectors.dataset_active()
    if dataset is None:
        raise modeling.ForecastError("No data is loaded yet: import a WPP file first.")
    started = time.perf_counter()
    if regions is None:
        regions = list(Region.objects.with_data())
    series = selectors.regions_estimates(codes=[region.code for region in regions])
    histories = {region.code: series.get(region.code, ([], [])) for region in regions}
    table = None
    if method != modeling.ORIGINAL_METHOD:
        everyone = selectors.regions_estimates(
            codes=Region.objects.with_data().values_list("code", flat=True)
        )
        table = _backtest_calibration(everyone, holdout=holdout, method=method, lags=lags)
    summary = backtesting.backtest_many(
        histories, holdout=holdout, lags=lags, level=level, method=method, calibration=table
    )
    names = {region.code: region.name for region in regions}
    run = BacktestRun.objects.create(
        dataset=dataset,
        method=method,
        lags=None if lags == modeling.LAGS_AUTO else lags,
        holdout=holdout,
        level=level,
        interval=ForecastRun.Interval.CALIBRATED if table else ForecastRun.Interval.MODEL,
        region_count=summary.regions,
        median_mape=summary.median_mape,
        coverage=summary.coverage,
        median_errors_by_horizon=summary.median_errors_by_horizon or [],
        failures=[
            {"code": code, "name": names[code], "error": str(outcome)}
            for code, outcome in summary.results.items()
            if isinstance(outcome, modeling.ForecastError)
        ],
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    BacktestResult.objects.bulk_create(
        BacktestResult(
            run=run,
            region_code=code,
            region_name=names[code],
            lags=outcome.lags,
            mape=outcome.mape,
            coverage=outcome.coverage,
            errors_by_horizon=outcome.abs_pct_errors_by_horizon,
        )
        for code, outcome in summary.results.items()
        if isinstance(outcome, backtesting.BacktestResult)
    )
    if method != modeling.ORIGINAL_METHOD:
        forecast_calibration(dataset=dataset, method=method, lags=lags)  # ready for forecasts
    return run


def _backtest_calibration(histories, *, holdout, method, lags):
    """A calibration table from every region's history without its held-out years, or None.

    All regions, not only those backtested: one region's few origins cannot set a 95% quantile.
    """
    last_years = [int(years[-1]) for years, _ in histories.values() if len(years)]
    if not last_years:
        return None
    last_fitted = max(last_years) - holdout
    cut = {
        code: (years[: len(years) - holdout], persons[: len(persons) - holdout])
        for code, (years, persons) in histories.items()
        if len(years) > holdout
    }
    try:
        return backtesting.calibrate(
            cut,
            origins=backtesting.calibration_origins(last_fitted, holdout),
            horizon=holdout,
            lags=lags,
            method=method,
        )
    except modeling.ForecastError:
        return None


OUTLOOK_YEARS = 10


def region_outlook(*, region: Region) -> RegionForecast | None:
    """The recommended model's forecast of the OUTLOOK_YEARS after a region's history, with the
    UN projection beside it when the data has one; None for a region without data or a series
    that cannot be fitted (not stored: a region page shows it, nobody asked for a run)."""
    if not region.has_data or region.last_year >= modeling.YEAR_MAX:
        return None
    start = region.last_year + 1
    end = min(region.last_year + OUTLOOK_YEARS, modeling.YEAR_MAX)
    try:
        [outlook] = forecast_compute(regions=[region], start=start, end=end)
    except modeling.ForecastError:
        return None
    return outlook
