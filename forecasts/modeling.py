"""Fit autoregressive models to yearly series and predict a span of years.

Plain functions over numbers (no Django), so they are tested directly. The model is the original
app's: ``AutoReg(history, lags=p, trend="c")`` fitted by OLS; p=1 reproduces its numbers exactly.

``forecast`` predicts one series and ``forecast_many`` predicts many in one go. Both run the same
vectorized least squares: series of the same length and lag order are stacked and solved together
with the SVD pseudo-inverse statsmodels' OLS uses, so a few hundred regions take milliseconds instead
of a second of one statsmodels model each. tests/test_modeling_batch.py checks the values and
intervals against statsmodels' AutoReg on every WPP2019 region.

A *method* names the series the AR(p) model is fitted to (see METHODS): the population itself (the
original app's "levels"), its logarithm, or its yearly changes (once or twice differenced, in
persons or as growth rates), which are then added back up to populations. The model and its
intervals are the same AutoReg on the transformed series; the interval of a differenced method
accumulates the model's errors over the years added up.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import norm

YEAR_MIN = 1950
YEAR_MAX = 2300
LAGS_MIN = 1
LAGS_MAX = 10
MAX_REGIONS = 20
DEFAULT_LAGS = 1
DEFAULT_LEVEL = 0.95

LAGS_AUTO = "auto"
ORIGINAL_METHOD = "levels"
METHODS = {
    "levels": "AutoReg on the population itself (the original app's model)",
    "log": "AutoReg on the logarithm of the population",
    "diff": "AutoReg on the yearly change in persons, added back up",
    "growth": "AutoReg on the yearly growth rate, compounded back",
    "diff2": "AutoReg on the change of the yearly change in persons, added back up twice",
    "growth2": "AutoReg on the change of the yearly growth rate, compounded back twice",
}
# The method and lags with the lowest median 10-year backtest error on WPP2019, chosen on forecasts
# fitted up to 1985, 1990, 1995 and 2000 (benchmarks/bench_accuracy.py prints the comparison; the
# chosen one then had a median error of 0.49% on 2011–2020, against 1.75% for levels with lags=1).
RECOMMENDED_METHOD = "diff2"
RECOMMENDED_LAGS = 3

# statsmodels' OLS treats singular values below this share of the largest as zero (pinv_extended).
_PINV_RCOND = 1e-15


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


LEVEL_MAX = 0.9999


def check_level(level: float) -> None:
    """Levels closer to 1 than LEVEL_MAX give intervals with infinite ends, so they are refused."""
    if not 0 < level <= LEVEL_MAX:
        raise ForecastError(
            f"The interval level must be between 0 and 1 (for example 0.95), at most {LEVEL_MAX}; "
            f"got {level}."
        )


def check_lags_choice(lags: int | str) -> None:
    """Like check_lags, and also accept "auto" (choose p per series by AIC)."""
    if lags == LAGS_AUTO:
        return
    if isinstance(lags, str):
        raise ForecastError(
            f'Lags must be "{LAGS_AUTO}" or a whole number from {LAGS_MIN} to {LAGS_MAX}; '
            f"got {lags!r}."
        )
    check_lags(lags)


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ForecastError(f"The method must be one of {', '.join(METHODS)}; got {method!r}.")


def forecast(
    years: Sequence[int],
    values: Sequence[float],
    *,
    start: int,
    end: int,
    lags: int | str = DEFAULT_LAGS,
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
    lags: int | str = DEFAULT_LAGS,
    level: float = DEFAULT_LEVEL,
    method: str = ORIGINAL_METHOD,
) -> list[Forecast | ForecastError]:
    """Predict [start, end] for many (years, values) histories at once, in the order given.

    Settings that apply to every series (span, lags, level, method) raise ForecastError at once. A
    series that cannot be fitted does not stop the others: its place in the returned list holds
    the ForecastError saying why (the caller names the region), the others hold their Forecast.
    Each result equals what ``forecast`` returns for that series alone.
    """
    check_span(start, end)
    check_lags_choice(lags)
    check_level(level)
    check_method(method)
    spec = _METHOD_SPECS[method]
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
    return results


def select_lags(values: Sequence[float], max_lags: int = LAGS_MAX) -> int:
    """The AR order p (1..max_lags) with the lowest AIC, as statsmodels' ``ar_select_order`` picks.

    ``ar_select_order(values, maxlag=m, ic="aic", trend="c")`` with m = min(max_lags, (n - 2) // 2):
    all orders are compared on the same observations, and at that m the largest model still has a
    residual. A series too short for one lag, or constant, gets 1; so does a series where AIC
    prefers no lags at all (the model always keeps one). The criterion is computed by the same
    stacked least squares as the fits (tests/test_modeling_batch.py checks it picks what
    statsmodels picks), so ``forecast_many(lags="auto")`` selects for all series at once.
    """
    series = np.asarray(values, dtype=float)
    return int(_select_lags_stacked(series[None, :], max_lags)[0])


def _select_lags_stacked(targets: np.ndarray, max_lags: int) -> np.ndarray:
    """select_lags for each row of equally long series."""
    count, length = targets.shape
    chosen = np.ones(count, dtype=int)
    most = min(max_lags, (length - 2) // 2)
    if most < 1:
        return chosen
    usable = np.all(np.isfinite(targets), axis=1) & ~np.all(targets == targets[:, :1], axis=1)
    if np.any(usable):
        orders = _lowest_aic_orders(targets[usable], most)
        chosen[usable] = np.maximum(orders, 1)
    return chosen


def _lowest_aic_orders(targets: np.ndarray, most: int) -> np.ndarray:
    """Per row, the order 0..most whose AR fit has the lowest AIC, as ar_select_order computes it.

    Every order is fitted to the same responses (the first ``most`` values held back). AIC is
    -2 llf + 2 rank, with llf the Gaussian log-likelihood at sigma2 = SSR / nobs and rank the
    design's numerical rank (statsmodels counts a rank-deficient fit's parameters so). Ties go to
    the smaller order, as statsmodels' stable sort does.
    """
    regressors, response = _design(targets, most)
    nobs = response.shape[1]
    criteria = np.empty((targets.shape[0], most + 1))
    for order in range(most + 1):
        columns = np.ascontiguousarray(regressors[:, :, : order + 1])
        params, singular = _pseudo_inverse_solve(columns, response)
        residuals = response - (columns @ params[:, :, None])[:, :, 0]
        sigma2 = np.sum(residuals**2, axis=1) / nobs
        with np.errstate(divide="ignore"):
            llf = -nobs * (np.log(2 * np.pi * sigma2) + 1) / 2
        tolerance = np.max(singular, axis=1, keepdims=True) * (order + 1) * np.finfo(float).eps
        rank = np.sum(singular > tolerance, axis=1)
        criteria[:, order] = -2.0 * llf + 2.0 * rank
    return np.argmin(criteria, axis=1)


def normal_quantile(level: float) -> float:
    """The two-sided normal quantile of an interval at ``level``, as statsmodels computes it."""
    alpha = 1 - level
    return float(norm.ppf(1 - alpha / 2.0))


@dataclass(frozen=True)
class _Method:
    """How a method transforms the population before fitting: logarithm, then d differences."""

    log: bool
    differences: int


_METHOD_SPECS = {
    "levels": _Method(log=False, differences=0),
    "log": _Method(log=True, differences=0),
    "diff": _Method(log=False, differences=1),
    "growth": _Method(log=True, differences=1),
    "diff2": _Method(log=False, differences=2),
    "growth2": _Method(log=True, differences=2),
}


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
    if _METHOD_SPECS[method].log and np.any(history <= 0):
        raise ForecastError(
            f"The method {method!r} needs positive values; the history has a value of 0 or less."
        )
    return _Series(index=index, first_year=first_year, history=history, lags=0)


def _auto_lags(valid: list[_Series], spec: _Method) -> list[int]:
    """The AIC-chosen order for each series, one stacked selection per series length."""
    orders = [1] * len(valid)
    by_length: dict[int, list[int]] = {}
    for position, series in enumerate(valid):
        by_length.setdefault(len(series.history), []).append(position)
    for length, positions in by_length.items():
        if length <= spec.differences:
            continue
        targets = _transformed(np.stack([valid[at].history for at in positions]), spec)
        for at, order in zip(positions, _select_lags_stacked(targets, LAGS_MAX), strict=True):
            orders[at] = int(order)
    return orders


def _check_length(length: int, lags: int, method: str) -> None:
    """Raise ForecastError when a history is too short to fit p lags (and the method's differences).

    Two limits: lags + 2 values (the original app's rule and message), and enough years after the
    first p to estimate the p + 1 coefficients, which statsmodels' AutoReg also requires (below
    it the fit would be exact and the interval a misleading zero width).
    """
    differences = _METHOD_SPECS[method].differences
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


def _transformed(history: np.ndarray, spec: _Method) -> np.ndarray:
    """The series the AR model is fitted to: log (if the method says so), then differenced."""
    working = np.log(history) if spec.log else history
    return np.diff(working, n=spec.differences, axis=-1)


def _predict_group(members, method, start, end, quantile) -> np.ndarray:
    """(value, lower, upper) for each member and each year in [start, end]; NaN where none.

    The members share their first year, length and lag order, so one stacked solve fits them all.
    Returns an array of shape (members, years, 3).
    """
    spec = _METHOD_SPECS[method]
    first_year = members[0].first_year
    lags = members[0].lags
    history = np.stack([series.history for series in members])
    working = np.log(history) if spec.log else history
    target = np.diff(working, n=spec.differences, axis=1)
    params, sigma2 = _fit_autoreg(target, lags)

    year_count = end - start + 1
    predicted = np.full((len(members), year_count, 3), np.nan)
    first_predictable = first_year + spec.differences + lags
    last_year = first_year + history.shape[1] - 1
    inside_from, inside_to = max(start, first_predictable), min(end, last_year)
    if inside_from <= inside_to:
        rows = np.arange(inside_from - first_year, inside_to - first_year + 1)
        mean = _one_step(working, target, params, lags, spec.differences, rows)
        half_width = quantile * np.sqrt(sigma2)[:, None]
        columns = slice(inside_from - start, inside_to - start + 1)
        predicted[:, columns] = np.stack([mean, mean - half_width, mean + half_width], axis=-1)
    if end > last_year:
        steps = end - last_year
        mean = _integrate(_recursion(target, params, steps), working, spec.differences)
        variance = sigma2[:, None] * _cumulative_squared_weights(params, steps, spec.differences)
        half_width = quantile * np.sqrt(variance)
        keep = slice(max(start, last_year + 1) - last_year - 1, steps)
        columns = slice(max(start, last_year + 1) - start, year_count)
        bounds = np.stack([mean, mean - half_width, mean + half_width], axis=-1)
        predicted[:, columns] = bounds[:, keep]

    if spec.log:
        with np.errstate(over="ignore"):
            predicted = np.exp(predicted)
    constant = np.all(history == history[:, :1], axis=1)
    if np.any(constant):
        predicted[constant] = _flat(history[constant, 0], year_count, start, first_predictable)
    unusable = ~np.all(np.isfinite(predicted), axis=-1, keepdims=True)
    return np.where(unusable, np.nan, predicted)


def _fit_autoreg(target: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """OLS of each row of ``target`` on a constant and its own ``lags`` previous values.

    Returns params (series, 1 + lags) as [constant, phi_1, ..., phi_p] and sigma2 = SSR / nobs,
    statsmodels AutoReg's estimate of the innovation variance. A constant target is an exact fit
    with zero variance; its params are set to that (the pseudo-inverse's answer may be off by
    rounding), so a constant series forecasts itself exactly.
    """
    regressors, response = _design(target, lags)
    params, _ = _pseudo_inverse_solve(regressors, response)
    residuals = response - (regressors @ params[:, :, None])[:, :, 0]
    sigma2 = np.sum(residuals**2, axis=1) / response.shape[1]
    constant = np.all(target == target[:, :1], axis=1)
    params[constant] = 0.0
    params[constant, 0] = target[constant, 0]
    sigma2[constant] = 0.0
    return params, sigma2


def _design(target: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Regressors [1, z(t-1), ..., z(t-p)] and responses z(t) for t = p .. n-1, per series."""
    count, length = target.shape
    regressors = np.empty((count, length - lags, lags + 1))
    regressors[:, :, 0] = 1.0
    for lag in range(1, lags + 1):
        regressors[:, :, lag] = target[:, lags - lag : length - lag]
    return regressors, target[:, lags:]


def _pseudo_inverse_solve(regressors: np.ndarray, response: np.ndarray):
    """Least squares for a stack of problems via the SVD pseudo-inverse, as statsmodels' OLS does.

    Same decomposition, cutoff and order of products as statsmodels' ``pinv_extended``, so the
    coefficients agree with AutoReg's to rounding even when the lagged columns are nearly
    collinear (smooth population series make them so). Returns the coefficients (stack, columns)
    and the singular values of each design.
    """
    left, singular, right_t = np.linalg.svd(regressors, full_matrices=False)
    cutoff = _PINV_RCOND * np.max(singular, axis=1, keepdims=True)
    inverse_singular = np.divide(
        1.0, singular, out=np.zeros_like(singular), where=singular > cutoff
    )
    # Contiguous operands let matmul hand each slice to BLAS, as np.dot does in statsmodels.
    right = np.ascontiguousarray(np.swapaxes(right_t, 1, 2))
    scaled_left_t = np.ascontiguousarray(inverse_singular[:, :, None] * np.swapaxes(left, 1, 2))
    pseudo_inverse = right @ scaled_left_t
    return (pseudo_inverse @ response[:, :, None])[:, :, 0], singular


def _one_step(working, target, params, lags, differences, rows) -> np.ndarray:
    """In-sample one-step predictions of ``working`` at positions ``rows`` (from recorded values).

    The model predicts the differenced value; the recorded values before each position turn it
    back into a prediction of the (log) population.
    """
    positions = rows - differences
    prediction = params[:, :1].copy()
    for lag in range(1, lags + 1):
        prediction = prediction + params[:, lag : lag + 1] * target[:, positions - lag]
    return prediction + _carried(working, differences, rows)


def _carried(working: np.ndarray, differences: int, rows: np.ndarray) -> np.ndarray:
    """What the earlier values contribute to a value whose d-th difference is predicted.

    y(t) = diff^d y(t) + sum_k (-1)^(k+1) C(d, k) y(t-k): zero for d=0, y(t-1) for d=1,
    2 y(t-1) - y(t-2) for d=2.
    """
    carried = np.zeros((working.shape[0], len(rows)))
    for back in range(1, differences + 1):
        sign = 1 if back % 2 else -1
        carried += sign * math.comb(differences, back) * working[:, rows - back]
    return carried


def _recursion(target: np.ndarray, params: np.ndarray, steps: int) -> np.ndarray:
    """The model's own forecasts of ``target`` for the ``steps`` positions after its end."""
    lags = params.shape[1] - 1
    path = np.empty((target.shape[0], lags + steps))
    path[:, :lags] = target[:, target.shape[1] - lags :]
    for step in range(steps):
        value = params[:, 0].copy()
        for lag in range(1, lags + 1):
            value += params[:, lag] * path[:, lags + step - lag]
        path[:, lags + step] = value
    return path[:, lags:]


def _integrate(forecasts: np.ndarray, working: np.ndarray, differences: int) -> np.ndarray:
    """Add differenced forecasts back up, starting from the last recorded value of each order."""
    for order in reversed(range(differences)):
        last = np.diff(working, n=order, axis=1)[:, -1]
        forecasts = last[:, None] + np.cumsum(forecasts, axis=1)
    return forecasts


def _cumulative_squared_weights(params, steps, differences) -> np.ndarray:
    """sum_{j<h} psi_j^2 for h = 1..steps: the forecast variance at horizon h over sigma2.

    psi are the MA(infinity) weights of the AR model (what statsmodels computes with arma2ma),
    summed once per difference so the errors of the added-up years accumulate.
    """
    phi = params[:, 1:]
    lags = phi.shape[1]
    psi = np.zeros((params.shape[0], steps))
    psi[:, 0] = 1.0
    for step in range(1, steps):
        reach = min(step, lags)
        psi[:, step] = np.sum(phi[:, :reach] * psi[:, step - 1 :: -1][:, :reach], axis=1)
    for _ in range(differences):
        psi = np.cumsum(psi, axis=1)
    return np.cumsum(psi**2, axis=1)


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
        points.append(Point(year=year, value=value, lower=lower, upper=upper, actual=actual))
    return Forecast(lags=series.lags, level=level, points=points)
