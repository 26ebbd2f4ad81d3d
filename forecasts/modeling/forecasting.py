"""Forecast populations: fit each history's method with the AutoReg core and predict a span of years.

Plain functions over numbers (no Django), so they are tested directly. The model is the original
app's: ``AutoReg(history, lags=p, trend="c")`` fitted by OLS; p=1 on levels reproduces its numbers
exactly. A *method* (rules.METHODS) names the series the AR(p) model is fitted to: the population
itself, its logarithm, or its yearly changes (once or twice differenced, in persons or as growth
rates), which are then added back up to populations; the interval of a differenced method
accumulates the model's errors over the years added up.

``forecast`` predicts one series and ``forecast_many`` many in one go, through the same stacked
least squares (autoreg.py). Given a calibration table (calibration.py), the intervals after the
history are the calibrated ones: calibration is part of the model, not a step callers add.
"""

import math
from collections.abc import Hashable, MutableMapping, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Protocol

import numpy as np

from forecasts.rules import (
    DAMPED_METHOD,
    DEFAULT_LEVEL,
    LAGS_AUTO,
    LAGS_MAX,
    METHODS,
    ORIGINAL_LAGS,
    ORIGINAL_METHOD,
    ForecastError,
    Method,
    check_lags,
    check_level,
    check_method,
    check_span,
)

from . import autoreg, damped
from .points import Forecast, Point


class Calibration(Protocol):
    """What forecast_many needs of a calibration table (calibration.CalibrationTable)."""

    def multiplier(self, horizon: int, level: float) -> float: ...

    def factor(self, key: Hashable) -> float: ...


def forecast(
    years: Sequence[int],
    values: Sequence[float],
    *,
    start: int,
    end: int,
    lags: int | str = ORIGINAL_LAGS,
    level: float = DEFAULT_LEVEL,
    method: str = ORIGINAL_METHOD,
) -> Forecast:
    """Predict every year in [start, end] from a series of consecutive yearly values.

    Raises ForecastError for an empty or gapped series, one shorter than ``lags + 2`` values or
    too short to estimate its p + 1 coefficients from the years after the first p (differenced
    methods need their differences on top), or settings outside the supported limits.
    A constant series forecasts itself with a zero-width interval: OLS has no unique answer there,
    and the flat line is what statsmodels' pseudo-inverse returns too, without its warning.
    ``lags="auto"`` chooses p by AIC (select_lags); the Forecast reports the p used. ``method``
    names the series the model is fitted to (METHODS); the default is the original app's model.
    This is forecast_many for one series, which raises its error instead of returning it.
    """
    [result] = forecast_many(
        [(years, values)], start=start, end=end, lags=lags, level=level, method=method
    )
    if isinstance(result, ForecastError):
        raise result
    return result


def forecast_many(
    histories: Sequence[tuple[Sequence[int], Sequence[float]]],
    *,
    start: int,
    end: int,
    lags: int | str = ORIGINAL_LAGS,
    level: float = DEFAULT_LEVEL,
    method: str = ORIGINAL_METHOD,
    calibration: Calibration | None = None,
    keys: Sequence[Hashable] | None = None,
    fits: MutableMapping | None = None,
) -> list[Forecast | ForecastError]:
    """Predict [start, end] for many (years, values) histories at once, in the order given.

    Settings that apply to every series (span, lags, level, method) raise ForecastError at once. A
    series that cannot be fitted does not stop the others: its place in the returned list holds
    the ForecastError saying why (the caller names the region), the others hold their Forecast.
    Each result equals what ``forecast`` returns for that series alone.

    With ``calibration`` (a table built for this method and lags), the intervals of the years
    after each history are calibrated, scaled by the factor of the series' key in ``keys`` (the
    region codes, in the order of ``histories``); see calibrated. ``fits`` (damped only) keeps
    each key's fit for later calls on the same histories (damped.forecast_many).
    """
    check_span(start, end)
    check_lags(lags)
    check_level(level)
    check_method(method)
    if method == DAMPED_METHOD:
        return damped.forecast_many(
            histories, start=start, end=end, level=level, table=calibration, keys=keys, fits=fits
        )
    spec = METHODS[method]
    results: list[Forecast | ForecastError | None] = [None] * len(histories)
    valid = []
    for index, (years, values) in enumerate(histories):
        try:
            valid.append(_validated(index, years, values, method))
        except ForecastError as error:
            results[index] = error
    orders = _auto_lags(valid, spec) if lags == LAGS_AUTO else [lags] * len(valid)

    groups: dict[tuple[int, int, int], list[_Series]] = {}
    for series, order in zip(valid, orders, strict=True):
        try:
            _check_length(len(series.history), order, method)
        except ForecastError as error:
            results[series.index] = error
            continue
        key = (series.first_year, len(series.history), order)
        groups.setdefault(key, []).append(replace(series, lags=order))

    quantile = normal_quantile(level)
    for members in groups.values():
        predictions = _predict_group(members, method, start, end, quantile)
        for series, rows in zip(members, predictions, strict=True):
            results[series.index] = _as_forecast(series, rows, start, end, level)
    if calibration is not None and normal_quantile(level) > 0:
        for index, outcome in enumerate(results):
            if isinstance(outcome, Forecast):
                factor = calibration.factor(keys[index] if keys is not None else None)
                last_year = _last_year(histories[index])
                results[index] = calibrated(
                    outcome, calibration, last_year=last_year, factor=factor
                )
    return results


def calibrated(
    forecast: Forecast, table: Calibration, *, last_year: int, factor: float = 1.0
) -> Forecast:
    """The same forecast with calibrated intervals for the years after ``last_year``.

    ``last_year`` is the last year of the history the forecast was fitted on (horizon 1 is the
    year after it); ``factor`` is the region's factor in the table. Each side of the interval is
    the model's standard error on that side, in log space, times the table's multiplier at that
    horizon and level, times the factor: lower = value * (lower / value) ** (spread / z), so
    every bound of a positive value is positive (the table's scores are measured in log space
    too, calibration._rolling_scores). Years inside the history keep the model's one-step
    interval; a zero-width interval (a constant series) stays zero-width; a value of 0 or less
    (a model fitted in persons running below zero) keeps the model's bounds. Each side is at most
    MAX_LOG_HALF_WIDTH wide in log space (tables built from very short early histories have
    multipliers of 1e14).
    """
    model_quantile = normal_quantile(forecast.level)
    points = []
    for point in forecast.points:
        if point.value is None or point.year <= last_year or point.value <= 0:
            points.append(point)
            continue
        power = table.multiplier(point.year - last_year, forecast.level) * factor / model_quantile
        points.append(_widened(point, power))
    return replace(forecast, points=points, calibrated=True)


def _widened(point: Point, power: float) -> Point:
    """``point`` with each side of its interval, in log space, times ``power`` (at most
    MAX_LOG_HALF_WIDTH); a zero-width side stays exactly zero-width."""
    below = max(power * math.log(point.lower / point.value), -MAX_LOG_HALF_WIDTH)
    above = min(power * math.log(point.upper / point.value), MAX_LOG_HALF_WIDTH)
    return replace(point, lower=point.value * math.exp(below), upper=point.value * math.exp(above))


def _last_year(history) -> int:
    years, _ = history
    return int(years[-1])


def normal_quantile(level: float) -> float:
    """The two-sided normal quantile of an interval at ``level``, as statsmodels computes it
    (the standard library's NormalDist gives it without importing scipy)."""
    alpha = 1 - level
    return NormalDist().inv_cdf(1 - alpha / 2.0)


@dataclass(frozen=True)
class _Series:
    """One validated history, its position in the caller's list, and the lag order to fit."""

    index: int
    first_year: int
    history: np.ndarray
    lags: int


def _validated(index, years, values, method) -> _Series:
    """A valid history as a _Series (lags not yet settled), or ForecastError saying what is wrong."""
    history = np.asarray(values, dtype=float)
    first_year = _check_history(years, history)
    if METHODS[method].log and np.any(history <= 0):
        raise ForecastError(
            f"The method {method!r} needs positive values; the history has a value of 0 or less."
        )
    return _Series(index=index, first_year=first_year, history=history, lags=0)


def _auto_lags(valid: list[_Series], spec: Method) -> list[int]:
    """The AIC-chosen order for each series, one stacked selection per series length."""
    orders = [1] * len(valid)
    by_length: dict[int, list[int]] = {}
    for position, series in enumerate(valid):
        by_length.setdefault(len(series.history), []).append(position)
    for length, positions in by_length.items():
        if length <= spec.differences:
            continue
        targets = _transformed(np.stack([valid[at].history for at in positions]), spec)
        for at, order in zip(
            positions, autoreg.select_lags_stacked(targets, LAGS_MAX), strict=True
        ):
            orders[at] = int(order)
    return orders


def _check_length(length: int, lags: int, method: str) -> None:
    """Raise ForecastError when a history is too short to fit p lags (and the method's differences).

    Two limits: lags + 2 values (the original app's rule and message), and enough years after the
    first p to estimate the p + 1 coefficients, which statsmodels' AutoReg also requires (below
    it the fit would be exact and the interval a misleading zero width).
    """
    differences = METHODS[method].differences
    with_method = f" with method {method!r}" if differences else ""
    needed = lags + 2 + differences
    if length < needed:
        raise ForecastError(
            f"The history has {length} years; lags={lags}{with_method} needs at least {needed}."
        )
    needed_to_estimate = 2 * lags + 1 + differences
    if length < needed_to_estimate:
        raise ForecastError(
            f"The history has {length} years; lags={lags}{with_method} needs at least "
            f"{needed_to_estimate} to estimate its {lags + 1} coefficients."
        )


def _check_history(years: Sequence[int], history: np.ndarray) -> int:
    """Return the first year of a valid history, or raise ForecastError saying what is wrong."""
    if len(history) == 0:
        raise ForecastError("There is no recorded history to fit a model to.")
    if len(years) != len(history):
        raise ForecastError("Years and values must have the same length.")
    year_numbers = np.asarray(years).astype(np.int64)
    first_year = int(year_numbers[0])
    if np.any(year_numbers != np.arange(first_year, first_year + len(year_numbers))):
        raise ForecastError("The history must be consecutive years without gaps.")
    if not np.all(np.isfinite(history)):
        raise ForecastError("The history contains values that are not numbers.")
    return first_year


def _transformed(history: np.ndarray, spec: Method) -> np.ndarray:
    """The series the AR model is fitted to: log (if the method says so), then differenced."""
    working = np.log(history) if spec.log else history
    return np.diff(working, n=spec.differences, axis=-1)


def _predict_group(members, method, start, end, quantile) -> np.ndarray:
    """(value, lower, upper) for each member and each year in [start, end]; NaN where none.

    The members share their first year, length and lag order, so one stacked solve fits them all.
    Returns an array of shape (members, years, 3).
    """
    spec = METHODS[method]
    first_year = members[0].first_year
    lags = members[0].lags
    history = np.stack([series.history for series in members])
    working = np.log(history) if spec.log else history
    target = np.diff(working, n=spec.differences, axis=1)
    params, sigma2 = autoreg.fit_autoreg(target, lags)

    year_count = end - start + 1
    predicted = np.full((len(members), year_count, 3), np.nan)
    first_predictable = first_year + spec.differences + lags
    last_year = first_year + history.shape[1] - 1
    inside_from, inside_to = max(start, first_predictable), min(end, last_year)
    if inside_from <= inside_to:
        rows = np.arange(inside_from - first_year, inside_to - first_year + 1)
        mean = autoreg.one_step(working, target, params, lags, spec.differences, rows)
        half_width = quantile * np.sqrt(sigma2)[:, None]
        columns = slice(inside_from - start, inside_to - start + 1)
        predicted[:, columns] = np.stack([mean, mean - half_width, mean + half_width], axis=-1)
    if end > last_year:
        steps = end - last_year
        mean = autoreg.integrate(
            autoreg.recursion(target, params, steps), working, spec.differences
        )
        variance = sigma2[:, None] * autoreg.cumulative_squared_weights(
            params, steps, spec.differences
        )
        half_width = quantile * np.sqrt(variance)
        keep = slice(max(start, last_year + 1) - last_year - 1, steps)
        columns = slice(max(start, last_year + 1) - start, year_count)
        bounds = np.stack([mean, mean - half_width, mean + half_width], axis=-1)
        predicted[:, columns] = bounds[:, keep]

    if spec.log:
        with np.errstate(over="ignore"):
            predicted = np.exp(predicted)
    else:
        predicted = _positive_bounds(predicted)
    constant = np.all(history == history[:, :1], axis=1)
    if np.any(constant):
        predicted[constant] = _flat(history[constant, 0], year_count, start, first_predictable)
    usable = np.all(np.isfinite(predicted), axis=-1, keepdims=True)
    if spec.log:
        # exp() of a runaway log forecast underflows to 0 as it overflows to inf: no value either
        # way, never a population of 0 from a method that is positive by construction.
        usable &= np.all(predicted > 0, axis=-1, keepdims=True)
    return np.where(usable, predicted, np.nan)


def _positive_bounds(predicted: np.ndarray) -> np.ndarray:
    """(value, lower, upper) of a method fitted in persons, its interval v -+ w re-expressed as
    v * exp(-+ w / v): the same relative half-width, in log space (the delta method).

    Why: a population cannot be 0 or less, but the normal interval of a model fitted in persons
    reaches below zero for small or shrinking populations (Tokelau's one-step interval, the lower
    bounds of most declining countries by the 2040s). Its log-space form is positive for every
    positive value, and within (w / v)^2 / 2 of the original where the interval is narrow (under
    0.1 % of the value for a half-width of 4 %). The values are the model's own, unchanged (the
    original app's numbers); a value of 0 or less keeps its bounds, and the services refuse it.
    """
    value, lower, upper = predicted[..., 0], predicted[..., 1], predicted[..., 2]
    positive = value > 0
    safe = np.where(positive, value, 1.0)
    with np.errstate(invalid="ignore"):
        below = np.minimum((value - lower) / safe, MAX_LOG_HALF_WIDTH)
        above = np.minimum((upper - value) / safe, MAX_LOG_HALF_WIDTH)
        low = np.where(positive, value * np.exp(-below), lower)
        high = np.where(positive, value * np.exp(above), upper)
    return np.stack([value, low, high], axis=-1)


# No side of an interval is wider, in log space, than a factor of 1,000: a value of a model fitted
# in persons that nears zero from above has a half-width of thousands of times itself, whose
# exp() leaves the floats (the lower bound would round to 0, the upper be infinite).
MAX_LOG_HALF_WIDTH = math.log(1000.0)


def _flat(values: np.ndarray, year_count: int, start: int, first_predictable: int) -> np.ndarray:
    """A constant series' forecast: itself, with a zero-width interval, wherever predictable."""
    flat = np.repeat(values[:, None, None], year_count, axis=1).repeat(3, axis=2)
    before = max(0, min(year_count, first_predictable - start))
    flat[:, :before] = np.nan
    return flat


def _as_forecast(series: _Series, rows: np.ndarray, start: int, end: int, level: float):
    """Wrap one member's predicted rows as a Forecast with the recorded values beside them."""
    last_year = series.first_year + len(series.history) - 1
    points = []
    for year, (value, lower, upper) in zip(range(start, end + 1), rows.tolist(), strict=True):
        inside = series.first_year <= year <= last_year
        actual = float(series.history[year - series.first_year]) if inside else None
        if math.isnan(value):
            value = lower = upper = None
        points.append(Point(year, value, lower, upper, actual))
    return Forecast(lags=series.lags, level=level, points=points)
