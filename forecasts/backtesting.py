"""Backtests and calibrated intervals: how good a forecast would have been, on years already known.

A backtest holds out the last H years of a region's history, fits the model on the years before,
forecasts the held-out years and compares them with the record: the mean absolute percentage error
(MAPE), the error at each horizon, and how often the prediction interval contained the recorded
value. ``backtest_many`` does this for many regions in one vectorized fit and summarises them.

AutoReg's intervals assume the model is right and its errors are normal; population series break
both assumptions (trends change, shocks come in clusters), so nominal 95% intervals can contain the
truth far less often. ``calibrate`` fixes the level empirically (split conformal prediction): it
backtests from many earlier origins, measures each error in units of the model's own standard error
at that horizon, and keeps those scores by horizon. A calibrated interval is then the forecast plus
or minus the score quantile at the wanted level times the model's standard error, times a factor
for how wild the region's own past errors were (``CalibrationTable`` says why it is built so).

Plain functions over numbers (no Django): the services store and show what these return.
"""

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from forecasts.modeling import (
    DEFAULT_LAGS,
    DEFAULT_LEVEL,
    ORIGINAL_METHOD,
    Forecast,
    ForecastError,
    Point,
    check_lags_choice,
    check_level,
    check_method,
    forecast_many,
    normal_quantile,
)

DEFAULT_HOLDOUT = 10
HOLDOUT_MIN = 1
HOLDOUT_MAX = 50
DEFAULT_SHRINKAGE = 20.0
CALIBRATION_ORIGINS = 21

History = tuple[Sequence[int], Sequence[float]]


@dataclass(frozen=True)
class BacktestResult:
    """How the forecast of the held-out years compared with the record.

    ``mape`` and ``abs_pct_errors_by_horizon`` are percentages (1.8 means 1.8%); the errors are
    listed for horizon 1 (the first held-out year) to ``n``. ``coverage`` is the share (0 to 1) of
    held-out years whose recorded value lies inside [lower, upper]. ``lags`` is the p fitted (the
    chosen one for lags="auto"); ``points`` are the forecast years with the record beside them.
    """

    mape: float
    abs_pct_errors_by_horizon: list[float]
    coverage: float
    n: int
    lags: int
    points: list[Point]

    @property
    def origin(self) -> int:
        """The last year the model was fitted on."""
        return self.points[0].year - 1


@dataclass(frozen=True)
class BacktestSummary:
    """Backtests of many regions: each region's result (or the error that stopped it) and totals.

    ``median_mape`` is the median of the regions' MAPEs (percent); ``coverage`` pools every
    held-out year of every region (share 0 to 1); ``median_errors_by_horizon`` is the median
    absolute percentage error across regions at each horizon. They are None when no region could
    be backtested.
    """

    results: dict[Hashable, BacktestResult | ForecastError]
    median_mape: float | None
    coverage: float | None
    median_errors_by_horizon: list[float] | None

    @property
    def regions(self) -> int:
        """How many regions have a result."""
        return sum(isinstance(result, BacktestResult) for result in self.results.values())


@dataclass(frozen=True)
class CalibrationTable:
    """Backtest errors, in model standard errors, that set calibrated interval widths.

    ``scores_by_horizon[h - 1]`` holds the sorted scores at horizon h, pooled over regions and
    origins: |recorded - forecast| divided by the model's standard error on that side of the
    forecast, and by the region's factor. ``region_factors`` scale each region: the root mean
    square of its own scores (relative to the pooled median at each horizon), shrunk towards 1 as
    if ``shrinkage`` more scores of exactly the median had been seen.

    Why this shape: one region has at most a few dozen overlapping backtests, too few to estimate
    its own 95th percentile; pooling all regions' scores gives thousands. Scaling by the model's
    standard error keeps regions with calm and volatile histories apart, and the shrunk region
    factor carries over what standard errors miss: regions whose past forecasts failed badly (a
    migration boom, a war) tend to fail badly again.
    """

    method: str
    lags: int | str
    origins: list[int]
    scores_by_horizon: list[list[float]]
    region_factors: dict[Hashable, float]
    shrinkage: float

    @property
    def horizon(self) -> int:
        return len(self.scores_by_horizon)

    def multiplier(self, horizon: int, level: float) -> float:
        """How many model standard errors an interval at ``level`` spans at ``horizon``.

        The conformal quantile: the ceil((n + 1) * level)-th smallest of the n scores. Horizons
        past the table use its last horizon (the model's own standard error still widens there).
        With too few scores for the level, the largest score is used.
        """
        check_level(level)
        scores = self.scores_by_horizon[min(max(horizon, 1), self.horizon) - 1]
        if not scores:
            raise ForecastError(f"The calibration table has no scores at horizon {horizon}.")
        rank = math.ceil((len(scores) + 1) * level)
        return scores[min(rank, len(scores)) - 1]

    def factor(self, key: Hashable) -> float:
        """The region's factor; 1 for a region the table has not seen."""
        return self.region_factors.get(key, 1.0)


def check_holdout(holdout: int) -> None:
    if not HOLDOUT_MIN <= holdout <= HOLDOUT_MAX:
        raise ForecastError(
            f"The holdout must be a whole number of years from {HOLDOUT_MIN} to {HOLDOUT_MAX}; "
            f"got {holdout}."
        )


def backtest(
    years: Sequence[int],
    values: Sequence[float],
    *,
    holdout: int = DEFAULT_HOLDOUT,
    lags: int | str = DEFAULT_LAGS,
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
    lags: int | str = DEFAULT_LAGS,
    level: float = DEFAULT_LEVEL,
    method: str = ORIGINAL_METHOD,
    calibration: CalibrationTable | None = None,
) -> BacktestSummary:
    """Backtest every history (keyed by region) with one vectorized fit per distinct last year.

    Settings errors raise ForecastError; a region that cannot be backtested gets its
    ForecastError in ``results`` instead of a BacktestResult. With ``calibration``, the intervals
    scored are the calibrated ones (see calibrated_forecast).
    """
    check_holdout(holdout)
    check_lags_choice(lags)
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
        )
        for (key, _), outcome in zip(members, forecasts, strict=True):
            results[key] = _scored(key, outcome, histories[key], holdout, calibration)
    return _summary({key: results[key] for key in histories})


def calibrate(
    histories: Mapping[Hashable, History],
    *,
    origins: Sequence[int],
    horizon: int = DEFAULT_HOLDOUT,
    lags: int | str = DEFAULT_LAGS,
    method: str = ORIGINAL_METHOD,
    shrinkage: float = DEFAULT_SHRINKAGE,
) -> CalibrationTable:
    """Build a calibration table from rolling-origin backtests of every history.

    For each origin year T, each history is cut after T, forecast for T+1 .. T+horizon, and every
    forecast year that the history records gives a score. Only recorded years are used, so to test
    the table honestly, pass histories that end before the years it will be judged on.
    Raises ForecastError when no score could be computed (histories too short for the origins).
    """
    check_holdout(horizon)
    check_lags_choice(lags)
    check_method(method)
    if not shrinkage > 0:
        raise ForecastError(f"The shrinkage must be more than 0; got {shrinkage}.")
    keys, horizons, scores = _rolling_scores(histories, origins, horizon, lags, method)
    if not scores.size:
        raise ForecastError("No backtest from these origins has a recorded year to score.")
    factors = _region_factors(keys, horizons, scores, shrinkage)
    normalised = scores / np.array([factors[key] for key in keys])
    by_horizon = [sorted(normalised[horizons == step].tolist()) for step in range(1, horizon + 1)]
    return CalibrationTable(
        method=method,
        lags=lags,
        origins=list(origins),
        scores_by_horizon=by_horizon,
        region_factors=factors,
        shrinkage=shrinkage,
    )


def calibration_origins(last_year: int, horizon: int = DEFAULT_HOLDOUT) -> range:
    """The origins calibrate uses by default: the last CALIBRATION_ORIGINS whose whole horizon
    is recorded by ``last_year`` (for data to 2020 and 10 years: 1990 to 2010).

    Recent origins judge the model on histories nearly as long as the one it will forecast from;
    twenty-one of them give every horizon a few thousand scores over a few hundred regions.
    """
    last_origin = last_year - horizon
    return range(last_origin - CALIBRATION_ORIGINS + 1, last_origin + 1)


def calibrated_forecast(
    forecast: Forecast, table: CalibrationTable, *, last_year: int, key: Hashable = None
) -> Forecast:
    """The same forecast with calibrated intervals for the years after ``last_year``.

    ``last_year`` is the last year of the history the forecast was fitted on (horizon 1 is the
    year after it); ``key`` names the region in the table (its factor; 1 if absent). The forecast
    must come from the method the table was built for. Years inside the history keep the model's
    one-step interval; a zero-width interval (a constant series) stays zero-width.
    """
    check_level(forecast.level)
    model_quantile = normal_quantile(forecast.level)
    factor = table.factor(key)
    points = []
    for point in forecast.points:
        if point.value is None or point.year <= last_year:
            points.append(point)
            continue
        spread = table.multiplier(point.year - last_year, forecast.level) * factor
        below = (point.value - point.lower) / model_quantile
        above = (point.upper - point.value) / model_quantile
        points.append(
            replace(point, lower=point.value - spread * below, upper=point.value + spread * above)
        )
    return Forecast(lags=forecast.lags, level=forecast.level, points=points)


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


def _scored(key, outcome, history, holdout, calibration) -> BacktestResult | ForecastError:
    """Score one region's forecast of its held-out years against the record."""
    if isinstance(outcome, ForecastError):
        return ForecastError(f"After holding out {holdout} years: {outcome}")
    if any(point.value is None for point in outcome.points):
        return ForecastError("The forecast of the held-out years overflowed; it has no value.")
    if calibration is not None:
        last_fitted = outcome.points[0].year - 1
        outcome = calibrated_forecast(outcome, calibration, last_year=last_fitted, key=key)
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
    return BacktestResult(
        mape=float(np.mean(errors)),
        abs_pct_errors_by_horizon=errors.tolist(),
        coverage=float(np.mean(inside)),
        n=holdout,
        lags=outcome.lags,
        points=points,
    )


def _summary(results: dict[Hashable, BacktestResult | ForecastError]) -> BacktestSummary:
    scored = [result for result in results.values() if isinstance(result, BacktestResult)]
    if not scored:
        return BacktestSummary(results, None, None, None)
    inside = sum(result.coverage * result.n for result in scored)
    errors = np.array([result.abs_pct_errors_by_horizon for result in scored])
    return BacktestSummary(
        results=results,
        median_mape=float(np.median([result.mape for result in scored])),
        coverage=inside / sum(result.n for result in scored),
        median_errors_by_horizon=np.median(errors, axis=0).tolist(),
    )


def _rolling_scores(histories, origins, horizon, lags, method):
    """(keys, horizons, scores) of every scorable forecast year from every origin.

    A score is |recorded - forecast| over the model's standard error on the recorded value's side
    of the forecast. Years not recorded, without a prediction, or with a zero-width model interval
    (a constant series) give no score.
    """
    keys, horizons, scores = [], [], []
    for origin in origins:
        members = [
            (key, _cut(years, values, origin), _recorded(years, values, origin + 1, horizon))
            for key, (years, values) in histories.items()
            if len(years) and int(years[-1]) > origin
        ]
        forecasts = forecast_many(
            [part for _, part, _ in members],
            start=origin + 1,
            end=origin + horizon,
            lags=lags,
            method=method,
        )
        scored = [
            (key, outcome, recorded)
            for (key, _, recorded), outcome in zip(members, forecasts, strict=True)
            if not isinstance(outcome, ForecastError)
        ]
        if not scored:
            continue
        value, lower, upper = _bounds([outcome for _, outcome, _ in scored])
        recorded = np.array([row for _, _, row in scored])
        side = np.where(recorded >= value, upper - value, value - lower)
        quantile = normal_quantile(scored[0][1].level)
        usable = np.isfinite(recorded) & np.isfinite(value) & (side > 0)
        rows, columns = np.nonzero(usable)
        keys.extend(scored[row][0] for row in rows)
        horizons.append(columns + 1)
        scores.append(np.abs(recorded - value)[usable] / (side[usable] / quantile))
    if not keys:
        return [], np.array([], dtype=int), np.array([])
    return keys, np.concatenate(horizons), np.concatenate(scores)


def _region_factors(keys, horizons, scores, shrinkage) -> dict[Hashable, float]:
    """Each region's error scale relative to all regions', shrunk towards 1 (see CalibrationTable)."""
    medians = {step: np.median(scores[horizons == step]) for step in np.unique(horizons)}
    scale = np.array([medians[step] or 1.0 for step in horizons])
    relative = scores / scale
    squares: dict[Hashable, list[float]] = {}
    for key, value in zip(keys, relative.tolist(), strict=True):
        squares.setdefault(key, []).append(value * value)
    return {
        key: math.sqrt((shrinkage + sum(values)) / (shrinkage + len(values)))
        for key, values in squares.items()
    }


def _cut(years, values, origin) -> History:
    """The part of a history up to and including ``origin``."""
    year_numbers = np.asarray(years).astype(np.int64)
    keep = year_numbers <= origin
    return year_numbers[keep], np.asarray(values, dtype=float)[keep]


def _recorded(years, values, first, count) -> np.ndarray:
    """The recorded values of years first .. first + count - 1; NaN where the history has none."""
    year_numbers = np.asarray(years).astype(np.int64)
    offsets = year_numbers - first
    inside = (offsets >= 0) & (offsets < count)
    recorded = np.full(count, np.nan)
    recorded[offsets[inside]] = np.asarray(values, dtype=float)[inside]
    return recorded


def _bounds(forecasts: list[Forecast]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, lower and upper bounds of equally long forecasts as arrays (NaN for None)."""
    triples = np.array(
        [
            [(point.value, point.lower, point.upper) for point in outcome.points]
            for outcome in forecasts
        ],
        dtype=float,
    )
    return triples[:, :, 0], triples[:, :, 1], triples[:, :, 2]
