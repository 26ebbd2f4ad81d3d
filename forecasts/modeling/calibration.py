"""Calibrated intervals: widths set by how wrong past forecasts were, not by the model's assumptions.

AutoReg's intervals assume the model is right and its errors are normal; population series break
both assumptions (trends change, shocks come in clusters), so nominal 95% intervals can contain the
truth far less often. ``calibrate`` fixes the level empirically (split conformal prediction): it
backtests from many earlier origins, measures each error in units of the model's own standard error
at that horizon, and keeps those scores by horizon. Errors and standard errors are measured in log
space (a population's error is relative to its size, and a bound widened in log space stays above
zero). A calibrated interval then spans, on each side in log space, the score quantile at the
wanted level times the model's standard error, times a factor for how wild the region's own past
errors were (``CalibrationTable`` says why it is built so).
forecasting.forecast_many applies a table when it is given one.
"""

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from forecasts.rules import (
    DAMPED_METHOD,
    DEFAULT_HOLDOUT,
    ORIGINAL_LAGS,
    ORIGINAL_METHOD,
    YEAR_MIN,
    ForecastError,
    check_holdout,
    check_lags,
    check_level,
    check_method,
)

from .forecasting import Forecast, forecast_many, normal_quantile

DEFAULT_SHRINKAGE = 20.0
CALIBRATION_ORIGINS = 21

History = tuple[Sequence[int], Sequence[float]]


@dataclass(frozen=True)
class CalibrationTable:
    """Backtest errors, in model standard errors, that set calibrated interval widths.

    ``scores_by_horizon[h - 1]`` holds the sorted scores at horizon h, pooled over regions and
    origins: |log recorded - log forecast| divided by the model's standard error in log space on
    that side of the forecast, and by the region's factor. ``region_factors`` scale each region:
    the root mean square of its own scores (relative to the pooled median at each horizon), shrunk
    towards 1 as if ``shrinkage`` more scores of exactly the median had been seen.

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


def calibrate(
    histories: Mapping[Hashable, History],
    *,
    origins: Sequence[int],
    horizon: int = DEFAULT_HOLDOUT,
    lags: int | str = ORIGINAL_LAGS,
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
    check_lags(lags)
    check_method(method)
    if method == DAMPED_METHOD:
        raise ForecastError("The damped method has its own calibration (damped.calibrate).")
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


def _rolling_scores(histories, origins, horizon, lags, method):
    """(keys, horizons, scores) of every scorable forecast year from every origin.

    A score is |log recorded - log forecast| over the model's standard error, in log space, on the
    recorded value's side of the forecast. Years not recorded, without a prediction, or with a
    zero-width model interval (a constant series) give no score. Origins before the first year any history can have
    (rules.YEAR_MIN) have nothing to fit and are skipped.
    """
    keys, horizons, scores = [], [], []
    for origin in (origin for origin in origins if origin >= YEAR_MIN):
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
        with np.errstate(divide="ignore", invalid="ignore"):
            error, side = _log_error_and_side(recorded, value, lower, upper)
        quantile = normal_quantile(scored[0][1].level)
        usable = np.isfinite(error) & np.isfinite(side) & (side > 0)
        rows, columns = np.nonzero(usable)
        keys.extend(scored[row][0] for row in rows)
        horizons.append(columns + 1)
        scores.append(np.abs(error)[usable] / (side[usable] / quantile))
    if not keys:
        return [], np.array([], dtype=int), np.array([])
    return keys, np.concatenate(horizons), np.concatenate(scores)


def _log_error_and_side(recorded, value, lower, upper):
    """log(recorded / value), and the width in log space of the interval's side the recorded
    value fell on. Log space: forecasting.calibrated widens each side as a power of
    bound / value, so every bound stays positive; NaN where a value or bound is 0 or less."""
    log_value = np.log(np.where(value > 0, value, np.nan))
    error = np.log(np.where(recorded > 0, recorded, np.nan)) - log_value
    above = np.log(np.where(upper > 0, upper, np.nan)) - log_value
    below = log_value - np.log(np.where(lower > 0, lower, np.nan))
    return error, np.where(error >= 0, above, below)


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
