"""Backtests: how good a forecast would have been, on years already known.

A backtest holds out the last H years of a region's history, fits the model on the years before,
forecasts the held-out years and compares them with the record: the mean absolute percentage error
(MAPE), the error at each horizon, and how often the prediction interval contained the recorded
value. ``backtest_many`` does this for many regions in one vectorized fit and summarises them.
Plain functions over numbers (no Django): the services store and show what these return.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from forecasts.rules import (
    DEFAULT_HOLDOUT,
    DEFAULT_LEVEL,
    ORIGINAL_LAGS,
    ORIGINAL_METHOD,
    ForecastError,
    check_holdout,
    check_lags,
    check_level,
    check_method,
)

from .forecasting import Calibration, Point, forecast_many

History = tuple[Sequence[int], Sequence[float]]


@dataclass(frozen=True)
class BacktestResult:
    """How the forecast of the held-out years compared with the record.

    ``mape`` and ``abs_pct_errors_by_horizon`` are percentages (1.8 means 1.8%); the errors are
    listed for horizon 1 (the first held-out year) to ``n``. ``coverage`` is the share (0 to 1) of
    held-out years whose recorded value lies inside [lower, upper]. ``interval_score`` is the mean
    over those years of the interval score (width, plus 2 / (1 - level) times the distance by
    which the record falls outside) in percent of the record: it rewards narrow intervals and
    punishes misses, so neither a too-wide nor a too-narrow interval scores well. ``lags`` is the p
    fitted (the chosen one for lags="auto"); ``points`` are the forecast years with the record.
    """

    mape: float
    abs_pct_errors_by_horizon: list[float]
    coverage: float
    n: int
    lags: int
    points: list[Point]
    interval_score: float = 0.0

    @property
    def origin(self) -> int:
        """The last year the model was fitted on."""
        return self.points[0].year - 1


@dataclass(frozen=True)
class BacktestSummary:
    """Backtests of many regions: each region's result (or the error that stopped it) and totals.

    ``median_mape`` and ``mean_mape`` are the median and mean of the regions' MAPEs (percent);
    ``coverage`` pools every held-out year of every region (share 0 to 1);
    ``median_interval_score`` is the median of the regions' interval scores (percent);
    ``median_errors_by_horizon`` is the median absolute percentage error across regions at each
    horizon. They are None when no region could be backtested.
    """

    results: dict[Hashable, BacktestResult | ForecastError]
    median_mape: float | None
    coverage: float | None
    median_errors_by_horizon: list[float] | None
    mean_mape: float | None = None
    median_interval_score: float | None = None

    @property
    def regions(self) -> int:
        """How many regions have a result."""
        return sum(isinstance(result, BacktestResult) for result in self.results.values())


def backtest(
    years: Sequence[int],
    values: Sequence[float],
    *,
    holdout: int = DEFAULT_HOLDOUT,
    lags: int | str = ORIGINAL_LAGS,
    level: float = DEFAULT_LEVEL,
    method: str = ORIGINAL_METHOD,
) -> BacktestResult:
    """Hold out the last ``holdout`` years, fit on the rest, forecast them and score the forecast.

    Raises ForecastError when the settings are out of range, or the history is too short to leave
    a fit after holding out (the message says how many years remain).
    """
    summary = backtest_many(
        {None: (years, values)}, holdout=holdout, lags=lags, level=level, method=method
    )
    result = summary.results[None]
    if isinstance(result, ForecastError):
        raise result
    return result


def backtest_many(
    histories: Mapping[Hashable, History],
    *,
    holdout: int = DEFAULT_HOLDOUT,
    lags: int | str = ORIGINAL_LAGS,
    level: float = DEFAULT_LEVEL,
    method: str = ORIGINAL_METHOD,
    calibration: Calibration | None = None,
) -> BacktestSummary:
    """Backtest every history (keyed by region) with one vectorized fit per distinct last year.

    Settings errors raise ForecastError; a region that cannot be backtested gets its
    ForecastError in ``results`` instead of a BacktestResult. With ``calibration``, the intervals
    scored are the calibrated ones (see forecasting.calibrated).
    """
    check_holdout(holdout)
    check_lags(lags)
    check_level(level)
    check_method(method)
    results: dict[Hashable, BacktestResult | ForecastError] = {}
    by_last_year: dict[int, list[tuple[Hashable, History]]] = {}
    for key, (years, values) in histories.items():
        try:
            fit_part, last_year = _hold_out(years, values, holdout)
        except ForecastError as error:
            results[key] = error
            continue
        by_last_year.setdefault(last_year, []).append((key, fit_part))

    for last_year, members in by_last_year.items():
        forecasts = forecast_many(
            [fit_part for _, fit_part in members],
            start=last_year - holdout + 1,
            end=last_year,
            lags=lags,
            level=level,
            method=method,
            calibration=calibration,
            keys=[key for key, _ in members],
        )
        for (key, _), outcome in zip(members, forecasts, strict=True):
            results[key] = _scored(outcome, histories[key], holdout, level)
    return _summary({key: results[key] for key in histories})


def _hold_out(years, values, holdout) -> tuple[History, int]:
    """The history without its last ``holdout`` years, and the last recorded year."""
    if len(years) != len(values):
        raise ForecastError("Years and values must have the same length.")
    if len(years) <= holdout:
        raise ForecastError(
            f"The history has {len(years)} years; holding out {holdout} leaves none to fit."
        )
    values = np.asarray(values, dtype=float)
    held_out = values[-holdout:]
    if not np.all(np.isfinite(held_out)) or np.any(held_out <= 0):
        raise ForecastError(
            "A held-out year has no recorded population (missing, 0 or less), so its percentage "
            "error is undefined."
        )
    return (years[:-holdout], values[:-holdout]), int(years[-1])


def _scored(outcome, history, holdout, level) -> BacktestResult | ForecastError:
    """Score one region's forecast of its held-out years against the record."""
    if isinstance(outcome, ForecastError):
        return ForecastError(f"After holding out {holdout} years: {outcome}")
    if any(point.value is None for point in outcome.points):
        return ForecastError("The forecast of the held-out years overflowed; it has no value.")
    actual = np.asarray(history[1], dtype=float)[-holdout:]
    points = [
        replace(point, actual=float(recorded))
        for point, recorded in zip(outcome.points, actual, strict=True)
    ]
    value = np.array([point.value for point in points])
    lower = np.array([point.lower for point in points])
    upper = np.array([point.upper for point in points])
    errors = np.abs(value - actual) / actual * 100
    inside = (lower <= actual) & (actual <= upper)
    penalty = 2 / (1 - level)
    scores = (
        (upper - lower)
        + penalty * np.maximum(lower - actual, 0)
        + penalty * np.maximum(actual - upper, 0)
    ) / actual
    return BacktestResult(
        mape=float(np.mean(errors)),
        abs_pct_errors_by_horizon=errors.tolist(),
        coverage=float(np.mean(inside)),
        n=holdout,
        lags=outcome.lags,
        points=points,
        interval_score=float(np.mean(scores) * 100),
    )


def _summary(results: dict[Hashable, BacktestResult | ForecastError]) -> BacktestSummary:
    scored = [result for result in results.values() if isinstance(result, BacktestResult)]
    if not scored:
        return BacktestSummary(results, None, None, None)
    inside = sum(result.coverage * result.n for result in scored)
    errors = np.array([result.abs_pct_errors_by_horizon for result in scored])
    mapes = [result.mape for result in scored]
    return BacktestSummary(
        results=results,
        median_mape=float(np.median(mapes)),
        coverage=inside / sum(result.n for result in scored),
        median_errors_by_horizon=np.median(errors, axis=0).tolist(),
        mean_mape=float(np.mean(mapes)),
        median_interval_score=float(np.median([result.interval_score for result in scored])),
    )
