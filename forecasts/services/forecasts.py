"""Compute forecasts, store them as runs, and read them back; re-run and prune runs.

Every front door (site, API, admin, commands) resolves the active data once
(active_data.active_data()) and passes it in, so a request reads the dataset one time and fits
from memory. Creating a run returns the run with its results: nothing is written and read back,
nothing computed twice.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from forecasts import modeling, presenters, rules, selectors
from forecasts.active_data import ActiveData, UnProjection, active_data
from forecasts.modeling import damped
from forecasts.models import ForecastPoint, ForecastRun, Region

OUTLOOK_YEARS = 10
FORECAST_CACHE_SECONDS = 60 * 60


@dataclass(frozen=True)
class RegionForecast:
    """One region's forecast: ``lags`` is the order fitted (the AIC's choice for "auto").

    ``interval`` is ForecastRun.Interval: "calibrated" when the intervals after the history come
    from backtest errors, "model" when they are AutoReg's own. ``un`` is the UN's projection for
    the same years when the data has one, and ``backtest_mape`` the region's latest backtest error
    (percent) with the same method and lags. ``history_note`` says when the region's data stop
    before the others' (WPP2022's WHO Regions end in 1996): its forecast starts from there.
    """

    code: int
    name: str
    lags: int
    level: float
    points: list[modeling.Point]
    method: str = rules.ORIGINAL_METHOD
    interval: str = "model"
    un: UnProjection | None = None
    backtest_mape: float | None = None
    last_recorded_year: int | None = None
    history_note: str = ""

    @property
    def interval_label(self) -> str:
        return ForecastRun.Interval(self.interval).label


@dataclass(frozen=True)
class StoredRun:
    """A run just stored, with the results it was stored from."""

    run: ForecastRun
    results: list[RegionForecast]


def forecast_compute(
    *,
    data: ActiveData | None = None,
    regions: list[Region],
    start: int,
    end: int,
    method: str = rules.DEFAULT_METHOD,
    lags: int | str = rules.DEFAULT_LAGS,
    level: float = rules.DEFAULT_LEVEL,
    calibrate: bool = True,
) -> list[RegionForecast]:
    """Forecast each region's Estimates for [start, end] in one batched fit; values are persons.

    Every method but the original app's gets calibrated intervals when the data allows a
    calibration table; ``calibrate=False`` keeps the model's own intervals, for callers that
    show no interval (the world ranking), since building the table is the slow part of the first
    forecast on new data (about a second on WPP2019) and the predictions are the same.

    Raises ForecastError naming every region whose series cannot be fitted
    ("France: ...; WORLD: ..."). The limit of rules.MAX_REGIONS is the front doors' (for
    interactive requests), not this function's.
    """
    data = data or required_data()
    calibration = forecast_calibration(data, method=method, lags=lags) if calibrate else None
    outcomes = modeling.forecast_many(
        [data.history(region.code) for region in regions],
        start=start,
        end=end,
        lags=lags,
        level=level,
        method=method,
        calibration=calibration,
        keys=[region.code for region in regions],
    )
    failures = [
        f"{region.name}: {outcome}"
        for region, outcome in zip(regions, outcomes, strict=True)
        if isinstance(outcome, rules.ForecastError)
    ]
    if failures:
        raise rules.ForecastError("; ".join(failures))
    projections = data.un_projections()
    mapes = data.backtest_mapes(method, lags)
    return [
        RegionForecast(
            code=region.code,
            name=region.name,
            lags=outcome.lags,
            level=level,
            points=outcome.points,
            method=method,
            interval=_interval_kind(outcome.calibrated),
            un=_un_between(projections.get(region.code), start, end),
            backtest_mape=mapes.get(region.code),
            last_recorded_year=region.last_year,
            history_note=_history_note(region, data),
        )
        for region, outcome in zip(regions, outcomes, strict=True)
    ]


def _history_note(region: Region, data: ActiveData) -> str:
    """What a person must know when a region's data stop before the rest of the data."""
    latest = data.last_recorded_year
    if region.last_year is None or latest is None or region.last_year >= latest:
        return ""
    return (
        f"The data of {region.name} stop in {region.last_year} (the rest reach {latest}): "
        f"its forecast runs from {region.last_year + 1}, so it carries "
        f"{latest - region.last_year} more years of uncertainty."
    )


def forecast_document(*, data: ActiveData | None = None, regions: list[Region], **settings) -> dict:
    """The API's forecast document (presenters.forecast_document), cached per data generation
    and settings, so the same question is answered from the cache until the data changes."""
    data = data or required_data()
    codes = [region.code for region in regions]
    key = f"forecast:{data.generation}:{presenters.settings_digest(codes=codes, **settings)}"
    document = cache.get(key)
    if document is None:
        results = forecast_compute(data=data, regions=regions, **settings)
        document = presenters.forecast_document(
            results, dataset=data.dataset, codes=codes, **settings
        )
        cache.set(key, document, FORECAST_CACHE_SECONDS)
    return document


def required_data() -> ActiveData:
    """The active data, or ForecastError when no data is loaded yet."""
    data = active_data()
    if data is None:
        raise rules.ForecastError("No data is loaded yet: import a WPP file first.")
    return data


def forecast_calibration(data: ActiveData, *, method: str, lags: int | str):
    """The calibration table of ``method``/``lags`` on this data, or None (the original app's
    model keeps its model-based intervals; data too short to calibrate does too).

    Built from every region's history with rolling origins from 30 to 10 years before the last
    estimate, once per dataset in each process, and shared through the cache (a backtest builds
    it ahead).
    """
    if method == rules.ORIGINAL_METHOD:
        return None
    if method == rules.DAMPED_METHOD:
        return data.remember(("calibration", method), lambda: _damped_calibration(data))
    return data.remember(
        ("calibration", method, lags), lambda: _shared_calibration(data, method, lags)
    )


def _damped_calibration(data: ActiveData):
    """The damped model's table: stored with the dataset at import (services.datasets), so a
    fresh process has it with the active data; for data imported before that, built from
    rolling origins over every region's history (about a second on WPP2019) and kept as JSON in
    the cache per dataset."""
    document = data.calibration
    if not document:
        key = f"calibration:{data.dataset.pk}:{data.dataset.checksum}:damped"
        document = cache.get(key)
        if document is None:
            document = damped_calibration_document(data)
            cache.set(key, document, FORECAST_CACHE_SECONDS)
    return damped.table_from_json(document)


def damped_calibration_document(data: ActiveData) -> dict:
    """The damped model's calibration table of ``data`` as JSON ({} when the data is too short)."""
    last_year = max((int(years[-1]) for years, _ in data.estimates.values()), default=0)
    return damped.calibrate(data.estimates, last_year=last_year) or {}


def _shared_calibration(data: ActiveData, method: str, lags: int | str):
    key = f"calibration:{data.dataset.pk}:{data.dataset.checksum}:{method}:{lags}"
    table = cache.get(key)
    if table is None:
        table = False
        if data.estimates:
            last_year = max(int(years[-1]) for years, _ in data.estimates.values())
            try:
                table = modeling.calibrate(
                    data.estimates,
                    origins=modeling.calibration_origins(last_year),
                    lags=lags,
                    method=method,
                )
            except rules.ForecastError:
                table = False
        cache.set(key, table, FORECAST_CACHE_SECONDS)
    return table or None


def _interval_kind(calibrated: bool) -> str:
    return ForecastRun.Interval.CALIBRATED if calibrated else ForecastRun.Interval.MODEL


def _un_between(projection: UnProjection | None, start: int, end: int) -> UnProjection | None:
    return projection.between(start, end) if projection else None


def forecast_run_find(
    *,
    data: ActiveData | None = None,
    regions: list[Region],
    start: int,
    end: int,
    method: str = rules.DEFAULT_METHOD,
    lags: int | str = rules.DEFAULT_LAGS,
    level: float = rules.DEFAULT_LEVEL,
) -> ForecastRun | None:
    """The newest stored run with exactly these settings (regions in the same order) on the
    same data, or None. A run is a pure function of them, so pressing "Forecast" twice should
    open the same page instead of storing the same numbers again."""
    data = data or required_data()
    codes = [region.code for region in regions]
    candidates = ForecastRun.objects.filter(
        dataset=data.dataset,
        start_year=start,
        end_year=end,
        method=method,
        lags=None if lags == rules.LAGS_AUTO else lags,
        level=level,
    ).order_by("-created_at", "-pk")
    return next((run for run in candidates if run.region_codes == codes), None)


@transaction.atomic
def forecast_run_create(
    *,
    data: ActiveData | None = None,
    regions: list[Region],
    start: int,
    end: int,
    method: str = rules.DEFAULT_METHOD,
    lags: int | str = rules.DEFAULT_LAGS,
    level: float = rules.DEFAULT_LEVEL,
) -> StoredRun:
    """Compute a forecast and store it with its settings and the dataset it was fitted on.

    The run records the lags asked for (None for "auto") and, in each ``regions`` entry, the lags
    fitted to that region. Two statements: the run, then all its points in one insert.
    """
    data = data or required_data()
    started = time.perf_counter()
    results = forecast_compute(
        data=data, regions=regions, start=start, end=end, method=method, lags=lags, level=level
    )
    run = ForecastRun.objects.create(
        dataset=data.dataset,
        regions=[
            {
                "code": result.code,
                "name": result.name,
                "lags": result.lags,
                "last_recorded_year": result.last_recorded_year,
                "history_note": result.history_note,
            }
            for result in results
        ],
        start_year=start,
        end_year=end,
        method=method,
        lags=None if lags == rules.LAGS_AUTO else lags,
        level=level,
        interval=results[0].interval if results else ForecastRun.Interval.MODEL,
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
    return StoredRun(run=run, results=results)


def forecast_run_results(
    run: ForecastRun, *, data: ActiveData | None = None
) -> list[RegionForecast]:
    """A stored run's results in the shape forecast_compute returns, regions in the order asked.

    The UN projection and backtest errors beside them come from the run's dataset while it is the
    active one (``data``); a run on replaced data shows its own results only.
    """
    data = data or active_data()
    points_by_region: dict[int, list[modeling.Point]] = {}
    for code, year, value, lower, upper, actual in run.points.order_by(
        "region_code", "year"
    ).values_list("region_code", "year", "value", "lower", "upper", "actual"):
        points_by_region.setdefault(code, []).append(
            modeling.Point(year=year, value=value, lower=lower, upper=upper, actual=actual)
        )
    current = data is not None and data.dataset.pk == run.dataset_id
    projections = data.un_projections() if current else {}
    mapes = data.backtest_mapes(run.method, run.lags_choice) if current else {}
    return [
        RegionForecast(
            code=region["code"],
            name=region["name"],
            lags=region.get("lags", run.lags),
            level=run.level,
            points=points_by_region.get(region["code"], []),
            method=run.method,
            interval=run.interval,
            un=_un_between(projections.get(region["code"]), run.start_year, run.end_year),
            backtest_mape=mapes.get(region["code"]),
            last_recorded_year=region.get("last_recorded_year"),
            history_note=region.get("history_note", ""),
        )
        for region in run.regions
    ]


class RegionsMissingError(rules.ForecastError):
    """A run's regions that the current data lacks (the message names them)."""


def forecast_run_rerun(*, data: ActiveData | None = None, run: ForecastRun) -> StoredRun:
    """Store a new run with ``run``'s regions and settings, fitted on the active data.

    ``run`` itself stays as it was. Raises RegionsMissingError naming the run's regions that the
    current data lacks, ForecastError when a series cannot be fitted.
    """
    data = data or required_data()
    missing = [
        f"{region['name']} ({region['code']})"
        for region in run.regions
        if region["code"] not in data.regions or not data.regions[region["code"]].has_data
    ]
    if missing:
        raise RegionsMissingError(
            "Not in the current data: " + ", ".join(missing) + "; import a dataset that has them."
        )
    return forecast_run_create(
        data=data,
        regions=[data.regions[code] for code in run.region_codes],
        start=run.start_year,
        end=run.end_year,
        method=run.method,
        lags=run.lags_choice,
        level=run.level,
    )


@dataclass
class RerunOutcome:
    """What forecast_runs_rerun did: (old id, new id) pairs, and (old id, reason) for the rest."""

    created: list[tuple[int, int]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def forecast_runs_rerun(
    *, run_ids: list[int], progress: Callable[[int], None] | None = None
) -> RerunOutcome:
    """Re-run each of the given runs on the active data (forecast_run_rerun), oldest first.

    A run that cannot be re-run (a region the data lacks, a series that cannot be fitted, a run
    deleted since it was chosen) is listed in ``refused`` with the reason and the others go on:
    one bad run should not cost the operator the rest. Each new run is stored in its own
    transaction. ``progress`` receives the number of runs handled so far. Raises ForecastError
    when no data is loaded.
    """
    data = required_data()
    outcome = RerunOutcome()
    runs = {run.pk: run for run in ForecastRun.objects.filter(pk__in=run_ids)}
    for done, run_id in enumerate(sorted(run_ids), start=1):
        run = runs.get(run_id)
        if run is None:
            outcome.refused.append((run_id, "It was deleted before it could be re-run."))
        else:
            try:
                outcome.created.append((run_id, forecast_run_rerun(data=data, run=run).run.pk))
            except (selectors.RegionLookupError, rules.ForecastError) as error:
                outcome.refused.append((run_id, str(error)))
        if progress:
            progress(done)
    return outcome


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


def region_outlook(*, data: ActiveData | None = None, region: Region) -> RegionForecast | None:
    """The default model's forecast of the OUTLOOK_YEARS after a region's history, with the UN
    projection beside it when the data has one; None for a region without data or a series that
    cannot be fitted. Computed once per data generation (a region page shows it; nobody asked
    for a run, so it is not stored)."""
    data = data or required_data()
    return data.remember(("outlook", region.code), lambda: _outlook(data, region))


def _outlook(data: ActiveData, region: Region) -> RegionForecast | None:
    if not region.has_data or region.last_year >= rules.YEAR_MAX:
        return None
    start = region.last_year + 1
    end = min(region.last_year + OUTLOOK_YEARS, rules.YEAR_MAX)
    try:
        [outlook] = forecast_compute(data=data, regions=[region], start=start, end=end)
    except rules.ForecastError:
        return None
    return outlook
