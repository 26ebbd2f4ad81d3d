"""Backtest the model on the active data and store the result (the accuracy the site reports)."""

import time

from django.db import transaction

from forecasts import active_data, modeling, rules, selectors
from forecasts.models import BacktestResult, BacktestRun, ForecastRun, Region

from .calibration import forecast_calibration
from .forecasts import required_data


@transaction.atomic
def backtest_run_create(
    *,
    regions: list[Region] | None = None,
    holdout: int = rules.DEFAULT_HOLDOUT,
    method: str = rules.DEFAULT_METHOD,
    lags: int | str = rules.DEFAULT_LAGS,
    level: float = rules.DEFAULT_LEVEL,
) -> BacktestRun:
    """Backtest ``regions`` (None: every region with data) on the active dataset and store it.

    Each region's last ``holdout`` years are held out, the rest fitted and the held-out years
    forecast (modeling.backtest_many, one batched fit). Methods other than "levels" are scored
    with calibrated intervals, from a table built only on years before the held-out ones, so the
    coverage is what a forecast made then would have had. Regions that cannot be backtested are
    listed in the run's ``failures``.
    Raises rules.ForecastError for settings out of range or when no data is loaded.
    """
    data = required_data()
    started = time.perf_counter()
    if regions is None:
        regions = data.regions_with_data()
    histories = {region.code: data.history(region.code) for region in regions}
    table = None
    if method != rules.ORIGINAL_METHOD:
        table = _backtest_calibration(data.estimates, holdout=holdout, method=method, lags=lags)
    summary = modeling.backtest_many(
        histories, holdout=holdout, lags=lags, level=level, method=method, calibration=table
    )
    names = {region.code: region.name for region in regions}
    run = BacktestRun.objects.create(
        dataset=data.dataset,
        method=method,
        lags=None if lags == rules.LAGS_AUTO else lags,
        holdout=holdout,
        level=level,
        interval=ForecastRun.Interval.CALIBRATED if table else ForecastRun.Interval.MODEL,
        region_count=summary.regions,
        median_mape=summary.median_mape,
        mean_mape=summary.mean_mape,
        coverage=summary.coverage,
        interval_score=summary.median_interval_score,
        median_errors_by_horizon=summary.median_errors_by_horizon or [],
        failures=[
            {"code": code, "name": names[code], "error": str(outcome)}
            for code, outcome in summary.results.items()
            if isinstance(outcome, rules.ForecastError)
        ],
        model_version=modeling.model_version(method),
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
            interval_score=outcome.interval_score,
            errors_by_horizon=outcome.abs_pct_errors_by_horizon,
        )
        for code, outcome in summary.results.items()
        if isinstance(outcome, modeling.BacktestResult)
    )
    forecast_calibration(data, method=method, lags=lags)  # ready in the cache for forecasts
    # The newest backtest is part of the data generation: forget it now for this process, and
    # again once committed, so that no other request caches the generation without it.
    active_data.forget()
    transaction.on_commit(active_data.forget)
    return run


def accuracy_refresh(*, only_outdated: bool = False) -> list[BacktestRun]:
    """Backtest the site's models (rules.SITE_MODELS) at every horizon of rules.ACCURACY_HOLDOUTS
    on the active data: the figures /accuracy/ reports. A horizon the data is too short for is
    left out. About two seconds on WPP2019; the import runs it after every refresh.

    With ``only_outdated``, only the models and horizons whose newest figures on the active data
    are missing or from another version of the model (selectors.accuracy_outdated): after an
    upgrade that changed the model, the site reports the new model's accuracy, not the old one's.
    """
    wanted = None
    if only_outdated:
        wanted = set(selectors.accuracy_outdated(dataset=required_data().dataset))
    runs = []
    for method, lags in rules.SITE_MODELS:
        for holdout in rules.ACCURACY_HOLDOUTS:
            if wanted is not None and (method, lags, holdout) not in wanted:
                continue
            try:
                runs.append(backtest_run_create(holdout=holdout, method=method, lags=lags))
            except rules.ForecastError:
                continue
    return runs


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
    if method == rules.DAMPED_METHOD:
        return modeling.damped.table_from_json(
            modeling.damped.calibrate(cut, last_year=last_fitted)
        )
    try:
        return modeling.calibrate(
            cut,
            origins=modeling.calibration_origins(last_fitted, holdout),
            horizon=holdout,
            lags=lags,
            method=method,
        )
    except rules.ForecastError:
        return None
