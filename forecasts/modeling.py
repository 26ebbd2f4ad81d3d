"""Fit an autoregressive model to one yearly series and predict a span of years.

Plain functions over numbers (no Django), so they are tested directly. The model is the original
app's: ``AutoReg(history, lags=p, trend="c")`` fitted by OLS; p=1 reproduces its numbers exactly.
"""

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from statsmodels.tsa.ar_model import AutoReg

YEAR_MIN = 1950
YEAR_MAX = 2300
LAGS_MIN = 1
LAGS_MAX = 10
MAX_REGIONS = 20
DEFAULT_LAGS = 1
DEFAULT_LEVEL = 0.95


class ForecastError(ValueError):
    """A forecast that cannot be made from this series with these settings (the message says why)."""


@dataclass(frozen=True)
class Point:
    """One predicted year.

    ``value`` is the model's prediction: the recursion after the history, the one-step in-sample
    prediction inside it. It is None for the first ``lags`` years of the history, which have no
    earlier values to predict from. ``actual`` is the recorded value for years inside the history.
    """

    year: int
    value: float | None
    lower: float | None
    upper: float | None
    actual: float | None


@dataclass(frozen=True)
class Forecast:
    lags: int
    level: float
    points: list[Point]


def check_span(start: int, end: int) -> None:
    """Raise ForecastError unless [start, end] is an ordered span inside the supported years."""
    for name, year in (("start", start), ("end", end)):
        if not YEAR_MIN <= year <= YEAR_MAX:
            raise ForecastError(
                f"The {name} year must be between {YEAR_MIN} and {YEAR_MAX}; got {year}."
            )
    if start > end:
        raise ForecastError(f"The start year ({start}) must not be after the end year ({end}).")


def check_lags(lags: int) -> None:
    if not LAGS_MIN <= lags <= LAGS_MAX:
        raise ForecastError(
            f"Lags must be a whole number from {LAGS_MIN} to {LAGS_MAX}; got {lags}."
        )


def check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ForecastError(
            f"The interval level must be between 0 and 1 (for example 0.95); got {level}."
        )


def forecast(
    years: Sequence[int],
    values: Sequence[float],
    *,
    start: int,
    end: int,
    lags: int = DEFAULT_LAGS,
    level: float = DEFAULT_LEVEL,
) -> Forecast:
    """Predict every year in [start, end] from a series of consecutive yearly values.

    Raises ForecastError for an empty or gapped series, one shorter than ``lags + 2`` values (too few
    to fit a constant and p coefficients with a residual), or settings outside the supported limits.
    A constant series forecasts itself with a zero-width interval: OLS has no unique answer there,
    and the flat line is what statsmodels' pseudo-inverse returns too, without its warning.
    """
    check_span(start, end)
    check_lags(lags)
    check_level(level)
    history = np.asarray(values, dtype=float)
    first_year = _check_history(years, history, lags)
    history_end = first_year + len(history) - 1

    if np.all(history == history[0]):
        flat = float(history[0])
        predicted = {year: (flat, flat, flat) for year in range(first_year + lags, end + 1)}
    else:
        predicted = _autoreg_predictions(history, first_year, lags, level, start, end)

    points = []
    for year in range(start, end + 1):
        value, lower, upper = predicted.get(year, (None, None, None))
        actual = float(history[year - first_year]) if first_year <= year <= history_end else None
        points.append(Point(year=year, value=value, lower=lower, upper=upper, actual=actual))
    return Forecast(lags=lags, level=level, points=points)


def _check_history(years: Sequence[int], history: np.ndarray, lags: int) -> int:
    """Return the first year of a valid history, or raise ForecastError saying what is wrong."""
    if len(history) == 0:
        raise ForecastError("There is no recorded history to fit a model to.")
    if len(years) != len(history):
        raise ForecastError("Years and values must have the same length.")
    first_year = int(years[0])
    if any(int(year) != first_year + offset for offset, year in enumerate(years)):
        raise ForecastError("The history must be consecutive years without gaps.")
    if not np.all(np.isfinite(history)):
        raise ForecastError("The history contains values that are not numbers.")
    needed = lags + 2
    if len(history) < needed:
        raise ForecastError(
            f"The history has {len(history)} years; lags={lags} needs at least {needed}."
        )
    return first_year


def _autoreg_predictions(history, first_year, lags, level, start, end):
    """Map year -> (prediction, lower, upper) for the years statsmodels can predict in [start, end]."""
    first_predictable = first_year + lags
    if end < first_predictable:
        return {}
    # get_prediction fails when asked to start past the first out-of-sample position, so predict
    # from there at the latest and keep only the years asked for.
    from_index = min(max(start, first_predictable) - first_year, len(history))
    to_index = end - first_year
    with warnings.catch_warnings():
        # statsmodels warns that a date index is missing; positions are what we pass on purpose.
        warnings.simplefilter("ignore", category=UserWarning)
        fitted = AutoReg(history, lags=lags, trend="c").fit()
        frame = fitted.get_prediction(start=from_index, end=to_index).summary_frame(alpha=1 - level)
    predictions = {}
    for index, row in zip(
        range(from_index, to_index + 1), frame.itertuples(index=False), strict=True
    ):
        if index >= start - first_year and math.isfinite(row.mean):
            predictions[first_year + index] = (
                float(row.mean),
                float(row.mean_ci_lower),
                float(row.mean_ci_upper),
            )
    return predictions
