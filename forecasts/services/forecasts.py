"""Compute forecasts, store them as runs, and read them back; re-run and prune runs.

Every front door (site, API, admin, commands) resolves the active data once
(active_data.active_data()) and passes it in, so a request reads the dataset one time and fits
from memory. Creating a run returns the run with its results: nothing is written and read back,
nothing computed twice.
"""

from dataclasses import dataclass

from django.core.cache import cache

from forecasts import modeling, presenters, rules
from forecasts.active_data import ActiveData, UnProjection, active_data
from forecasts.models import ForecastRun, Region

from .calibration import forecast_calibration

OUTLOOK_YEARS = 10


FORECAST_CACHE_SECONDS = 60 * 60


def backtest_error(by_holdout: dict[int, float] | None, end: int, last_year: int | None) -> dict:
    """``backtest_mape`` and ``backtest_holdout`` for a forecast to ``end`` from data ending in
    ``last_year``: the region's backtest whose holdout is nearest to how far the forecast
    reaches (the longer one on a tie; the shortest when the reach is unknown).

    Why: the site backtests 10, 20 and 30 years ahead; the newest of them alone was the 30-year
    one, shown beside a forecast of 2030 with no word of its horizon (Tokelau 63% where its
    10-year error is 0.003%)."""
    if not by_holdout:
        return {"backtest_mape": None, "backtest_holdout": None}
    reach = None if last_year is None else end - last_year
    holdout = min(
        by_holdout,
        key=lambda years: (years,) if reach is None else (abs(years - reach), -years),
    )
    return {"backtest_mape": by_holdout[holdout], "backtest_holdout": holdout}


@dataclass(frozen=True)
class RegionForecast:
    """One region's forecast: ``lags`` is the order fitted (the AIC's choice for "auto").

    ``interval`` is ForecastRun.Interval: "calibrated" when the intervals after the history come
    from backtest errors, "model" when they are AutoReg's own. ``un`` is the UN's projection for
    the same years when the data has one, and ``backtest_mape`` the region's backtest error
    (percent) with the same method and lags, ``backtest_holdout`` years ahead (``backtest_error``).
    ``history_note`` says when the region's data stop before the others' (WPP2022's WHO Regions
    end in 1996): its forecast starts from there.
    """

    code: int
    name: str
    lags: int
    level: float
    points: list["modeling.Point"]
    method: str = rules.ORIGINAL_METHOD
    interval: str = "model"
    un: UnProjection | None = None
    backtest_mape: float | None = None
    backtest_holdout: int | None = None
    last_recorded_year: int | None = None
    history_note: str = ""

    @property
    def interval_label(self) -> str:
        return ForecastRun.Interval(self.interval).label


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
        # The damped model fits each region once per data version and keeps its forecast path
        # and its default-level bounds to 2100 (damped.forecast_many): they depend on the
        # history alone, and refitting was half the time of a forecast request.
        fits=data.remember("damped-fits", dict) if method == rules.DAMPED_METHOD else None,
    )
    failures = [
        f"{region.name}: {problem}"
        for region, outcome in zip(regions, outcomes, strict=True)
        if (problem := _problem(outcome, method))
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
            **backtest_error(mapes.get(region.code), end, region.last_year),
            last_recorded_year=region.last_year,
            history_note=_history_note(region, data),
        )
        for region, outcome in zip(regions, outcomes, strict=True)
    ]


def _problem(outcome, method: str) -> str:
    """Why a region's outcome is no forecast to show: the model's error, or the first year its
    value reaches zero or less. Models fitted in persons (levels, diff, diff2) can run below zero
    for a shrinking population (the original app's model: Montserrat from 2077); a population
    cannot, so such a year is refused rather than shown. Bounds are positive for every positive
    value (modeling.forecasting)."""
    if isinstance(outcome, rules.ForecastError):
        return str(outcome)
    year = next((p.year for p in outcome.points if p.value is not None and p.value <= 0), None)
    if year is None:
        return ""
    return (
        f"the {method} model's forecast reaches zero or less in {year}, and a population cannot: "
        f"end the forecast before {year}, or choose the recommended model."
    )


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


def forecast_document(
    *, data: ActiveData | None = None, regions: list[Region], before_compute=None, **settings
) -> dict:
    """The API's forecast document (presenters.forecast_document), cached per data generation
    and settings, so the same question is answered from the cache until the data changes
    (forecasts too small to be worth a round trip to the cache are computed again: see
    ``_worth_sharing``). ``before_compute`` is called only when the cache cannot answer, before
    any work: the API charges the client's forecast budget there (and raises when it is spent)."""
    data = data or required_data()
    codes = [region.code for region in regions]
    key = f"forecast:{data.generation}:{presenters.settings_digest(codes=codes, **settings)}"
    shared = _worth_sharing(regions=len(codes), **settings)
    document = cache.get(key) if shared else None
    if document is None:
        if before_compute is not None:
            before_compute()
        results = forecast_compute(data=data, regions=regions, **settings)
        document = presenters.forecast_document(
            results, dataset=data.dataset, codes=codes, **settings
        )
        if shared:
            cache.set(key, document, FORECAST_CACHE_SECONDS)
    return document


# Below this many region-years a default forecast computes in about a millisecond: less than
# looking it up in Redis and storing it there (two round trips and a pickle), which a stream of
# varied questions pays on every miss. The API keeps each answer in the worker anyway.
SHARED_FROM_REGION_YEARS = 200


def _worth_sharing(*, regions: int, start: int, end: int, method: str, lags, level) -> bool:
    """Whether a forecast costs enough to share through the cache: many region-years, or an
    AutoReg method or an AIC search over lags (fits per region and order, and a calibration)."""
    if method != rules.DEFAULT_METHOD or lags == rules.LAGS_AUTO:
        return True
    return regions * (end - start + 1) >= SHARED_FROM_REGION_YEARS


def required_data() -> ActiveData:
    """The active data, or ForecastError when no data is loaded yet."""
    data = active_data()
    if data is None:
        raise rules.ForecastError("No data is loaded yet: import a WPP file first.")
    return data


def _interval_kind(calibrated: bool) -> str:
    return ForecastRun.Interval.CALIBRATED if calibrated else ForecastRun.Interval.MODEL


def _un_between(projection: UnProjection | None, start: int, end: int) -> UnProjection | None:
    return projection.between(start, end) if projection else None


def region_outlook(*, data: ActiveData | None = None, region: Region) -> RegionForecast | None:
    """The default model's forecast of the OUTLOOK_YEARS after a region's history, with the UN
    projection beside it when the data has one; None for a region without data or a series that
    cannot be fitted. Computed once per data generation (a region page shows it; nobody asked
    for a run, so it is not stored)."""
    data = data or required_data()
    outlooks = region_outlooks(data)
    if region.code in outlooks:
        return outlooks[region.code]
    return data.remember(("outlook", region.code), lambda: _outlook(data, region))


def region_outlooks(data: ActiveData) -> dict[int, RegionForecast | None]:
    """The outlook of every region a batch can fit, computed once per data generation."""
    return data.remember("outlooks", lambda: _all_outlooks(data))


def _all_outlooks(data: ActiveData) -> dict[int, RegionForecast | None]:
    """Every region's outlook, in one batched fit per last recorded year (usually one batch for
    all): the first region page a process serves pays for all of them at once (tens of ms),
    instead of each page its own fit. Regions a batch cannot fit are left to ``_outlook``."""
    by_last_year: dict[int, list[Region]] = {}
    for region in data.regions_with_data():
        if region.last_year < rules.YEAR_MAX:
            by_last_year.setdefault(region.last_year, []).append(region)
    outlooks = {}
    for last_year, regions in by_last_year.items():
        end = min(last_year + OUTLOOK_YEARS, rules.YEAR_MAX)
        try:
            results = forecast_compute(data=data, regions=regions, start=last_year + 1, end=end)
        except rules.ForecastError:
            continue
        outlooks.update((result.code, result) for result in results)
    return outlooks


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
