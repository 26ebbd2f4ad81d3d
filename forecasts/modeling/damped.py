"""The default method, "damped": damped log growth with calibrated intervals (longrange*.py).

This adapts longrange's arrays to the project's Forecast and Point: histories are grouped by their
last year and fitted in one batch per group; years inside a history get the one-step prediction
beside the record, years after it the model's recursion. Every value and bound is exp() of a
finite number, so it is positive whatever the horizon; no AR fit is explosive (longrange scales
any root beyond 0.9 back). The calibration table (longrange_table.Table) comes from rolling-origin
backtests of every region of the dataset (``calibrate``), stored with the dataset as JSON.
"""

import itertools
import math
from collections.abc import Hashable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from forecasts.rules import DEFAULT_LEVEL, YEAR_MAX, ForecastError

from . import longrange, longrange_calibration, longrange_table
from .points import Forecast, Point

ORDER = longrange.ORDER
FIRST_CALIBRATION_ORIGIN = 1960
MIN_YEARS = 3
MIN_COLUMNS = 24


def forecast_many(
    histories: Sequence[tuple[Sequence[int], Sequence[float]]],
    *,
    start: int,
    end: int,
    level: float,
    table: "longrange_table.Table | None",
    keys: Sequence[Hashable] | None,
    fits: MutableMapping | None = None,
) -> list:
    """Forecast [start, end] for each history; a ForecastError in place of a series that has
    too few years or a value of 0 or less.

    ``fits``, when given, keeps each series' fit and its forecast path to YEAR_MAX by its key
    (with its first and last year) for later calls: both depend on the history only, not on the
    years or level asked, so a caller whose histories are fixed (the active data, per version)
    fits and runs the recursion of each region once instead of on every request, and a request
    takes its years from the kept path (at the default level, from the kept values and bounds).
    Results are the same to the last bit with or without it: the recursion of a series does not
    depend on the other series or on how far it runs, and its bounds are computed year by year."""
    results: list = [None] * len(histories)
    groups: dict[int, list[int]] = {}
    kept = fits if keys is not None else None  # fits are kept by key
    for index, (years, values) in enumerate(histories):
        problem = _checked(years, values, keys[index] if kept is not None else None, kept)
        if problem:
            results[index] = ForecastError(problem)
            continue
        groups.setdefault(int(years[-1]), []).append(index)
    for last_year, members in groups.items():
        rows = _predict_group(
            [histories[i] for i in members],
            last_year,
            start,
            end,
            level,
            table,
            [keys[i] if keys is not None else None for i in members],
            kept,
        )
        for index, (value, lower, upper) in zip(members, rows, strict=True):
            years, values = histories[index]
            points = _points(years, values, last_year, start, value, lower, upper)
            results[index] = Forecast(
                lags=ORDER, level=level, points=points, calibrated=table is not None
            )
    return results


def _points(years, values, last_year, start, value, lower, upper) -> list[Point]:
    """One series' Points from its rows of the group's arrays, the record beside years inside it.

    Python lists and math.isfinite rather than numpy scalars: every region to 2100 is 22,800
    points, and indexing numpy arrays one element at a time made this loop 5x the model's cost.
    Years after the history have no record and their values are exp() of finite numbers: once
    numpy has checked them all, they are built without a test one by one (41 -> 25 ms for every
    region to 2100).
    """
    first = int(years[0])
    after = max(0, last_year + 1 - start)
    # The record is read only when years inside the history are asked (most ask the future).
    recorded = np.asarray(values, dtype=float).tolist() if after else []
    columns = value.tolist(), lower.tolist(), upper.tolist()
    checked = after if np.isfinite(value[after:]).all() else len(value)
    points = []
    for year, (v, lo, hi) in enumerate(zip(*(c[:checked] for c in columns), strict=True), start):
        actual = recorded[year - first] if first <= year <= last_year else None
        if not math.isfinite(v):
            v = lo = hi = None
        points.append(Point(year, v, lo, hi, actual))
    future = zip(
        range(start + checked, start + len(columns[0])),
        *(c[checked:] for c in columns),
        itertools.repeat(None),
    )
    points.extend(itertools.starmap(Point, future))
    return points


def calibrate(histories: Mapping[Hashable, tuple], *, last_year: int) -> dict | None:
    """The calibration table of ``histories`` as JSON (None when they are too short): rolling
    origins from FIRST_CALIBRATION_ORIGIN to the year before ``last_year``. It names the
    longrange.MODEL_VERSION it measured (see ``is_current``)."""
    usable = {
        str(key): (np.asarray(years, dtype=int), np.asarray(values, dtype=float))
        for key, (years, values) in histories.items()
        if len(years) >= MIN_YEARS and np.all(np.asarray(values) > 0)
    }
    origins = range(FIRST_CALIBRATION_ORIGIN, last_year)
    try:
        table = longrange_calibration.calibrate(
            usable, origins, max_horizon=last_year - FIRST_CALIBRATION_ORIGIN
        )
    except ValueError:
        return None
    return {**table.to_dict(), MODEL_VERSION_KEY: longrange.MODEL_VERSION}


MODEL_VERSION_KEY = "model_version"


def is_current(document: dict | None) -> bool:
    """Whether a stored calibration table measured the errors of this version of the model.

    A table is stored with its dataset at import; when the model's arithmetic changes, the
    errors it measured are another model's, so its intervals would be calibrated for that one."""
    return bool(document) and document.get(MODEL_VERSION_KEY) == longrange.MODEL_VERSION


def table_from_json(document: dict | None) -> "longrange_table.Table | None":
    if not document:
        return None
    return longrange_table.Table.from_dict(
        {key: value for key, value in document.items() if key != MODEL_VERSION_KEY}
    )


def _checked(years, values, key, fits) -> str | None:
    """``_problem`` of a series, skipped for one whose fit ``fits`` keeps: only a series that
    passed the checks was fitted, and its history is the same (the checks run numpy over every
    recorded value, a sixth of a forecast's own work for a request of three regions)."""
    if fits is not None and len(years) and _name(key, years) in fits:
        return None
    return _problem(years, values)


def _problem(years, values) -> str | None:
    if len(values) == 0:
        return "There is no recorded history to fit a model to."
    if len(values) < MIN_YEARS:
        return f"The history has {len(values)} years; the damped model needs at least {MIN_YEARS}."
    if np.any(np.asarray(values, dtype=float) <= 0):
        return "The damped model needs positive values; the history has a value of 0 or less."
    year_numbers = np.asarray(years).astype(np.int64)
    if np.any(year_numbers != np.arange(year_numbers[0], year_numbers[0] + len(year_numbers))):
        return "The history must be consecutive years without gaps."
    return None


def _predict_group(members, last_year, start, end, level, table, keys, fits=None):
    """(value, lower, upper) arrays over [start, end] for histories ending in ``last_year``."""
    if fits is not None and start > last_year and level == DEFAULT_LEVEL:
        return _from_kept_futures(members, last_year, start, end, table, keys, fits)
    return _computed_group(members, last_year, start, end, level, table, keys, fits)


def _from_kept_futures(members, last_year, start, end, table, keys, fits):
    """The years asked, sliced from each series' kept future at DEFAULT_LEVEL: its values and
    bounds from ``last_year`` + 1 to YEAR_MAX (or ``end``, further), computed in one batch for
    the series that lack it. Why: most requests ask the default level for years after the
    history, and computing their bounds was the largest part left of a forecast's own work."""
    horizon = max(end, YEAR_MAX) - last_year
    calibrated = table is not None
    names = _names(keys, members)
    lacking = [
        row
        for row, name in enumerate(names)
        if name not in fits or len(fits[name].futures.get(calibrated, ((),))[0]) < horizon
    ]
    if lacking:
        rows = _computed_group(
            [members[row] for row in lacking],
            last_year,
            last_year + 1,
            last_year + horizon,
            DEFAULT_LEVEL,
            table,
            [keys[row] for row in lacking],
            fits,
        )
        for row, triple in zip(lacking, rows, strict=True):
            fits[names[row]].futures[calibrated] = triple
    first, last = start - last_year - 1, end - last_year
    return [tuple(array[first:last] for array in fits[name].futures[calibrated]) for name in names]


def _computed_group(members, last_year, start, end, level, table, keys, fits):
    """``_predict_group`` computed: the fits and paths ``fits`` keeps, the rest from the data."""
    # At least MIN_COLUMNS columns (NaN before a late start): the model's lag windows need them.
    first = min(min(int(years[0]) for years, _ in members), last_year - MIN_COLUMNS + 1)
    matrix = np.full((len(members), last_year - first + 1), np.nan)
    for row, (years, values) in enumerate(members):
        matrix[row, np.asarray(years, dtype=int) - first] = values
    kept = _kept(matrix, members, keys, fits)
    fit = longrange.fit(matrix) if kept is None else longrange.Fit.stack([k.fit for k in kept])
    count = end - start + 1
    value = np.full((len(members), count), np.nan)
    lower, upper = value.copy(), value.copy()
    inside_to = min(end, last_year)
    if start <= inside_to:
        one_step = longrange.predict_in_sample(matrix, fit)
        mean = one_step[:, max(start, first) - first : inside_to - first + 1]
        scale = np.where(fit.constant, 0.0, 0.01)[:, None] * np.ones_like(mean)
        low, high = _bounds(mean, scale, table, np.ones(mean.shape[1], dtype=int), level, keys)
        target = slice(max(start, first) - start, inside_to - start + 1)
        value[:, target], lower[:, target], upper[:, target] = mean, low, high
    if end > last_year:
        mean, scale = _future(fit, kept, end - last_year, last_year)
        # The horizons asked (years ahead of last_year); bounds are computed for those alone.
        horizons = np.arange(max(start, last_year + 1) - last_year, end - last_year + 1)
        mean, scale = mean[:, horizons - 1], scale[:, horizons - 1]
        _keep_shares(mean, fit.last_log, table, keys)
        low, high = _bounds(mean, scale, table, horizons, level, keys)
        target = slice(max(start, last_year + 1) - start, count)
        value[:, target], lower[:, target], upper[:, target] = mean, low, high
    _flatten_constant(members, first, start, value, lower, upper)
    return list(zip(value, lower, upper, strict=True))


@dataclass
class _Kept:
    """What ``fits`` keeps of one series: its fit and, once a forecast asked for them, its path
    ((mean, log_scale) for horizons 1, 2, ... to YEAR_MAX, one tuple so that it is replaced
    whole) and its futures at DEFAULT_LEVEL ((value, lower, upper) over the same years, by
    whether the bounds are calibrated)."""

    fit: longrange.Fit
    path: tuple[np.ndarray, np.ndarray] | None = None
    futures: dict[bool, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)


def _names(keys, members) -> list[tuple]:
    """Each series' name in ``fits`` (``_name``)."""
    return [_name(key, years) for key, (years, _) in zip(keys, members, strict=True)]


def _name(key, years) -> tuple:
    """A series' name in ``fits``: its key, first and last year."""
    return (key, int(years[0]), int(years[-1]))


def _kept(matrix, members, keys, fits) -> list[_Kept] | None:
    """Each row's entry in ``fits`` (None without ``fits``), fitting the rows not there yet in
    one batch and keeping them."""
    if fits is None:
        return None
    names = _names(keys, members)
    missing = [row for row, name in enumerate(names) if name not in fits]
    if missing:
        fitted = longrange.fit(matrix[missing])
        for position, row in enumerate(missing):
            fits[names[row]] = _Kept(fit=fitted.row(position))
    return [fits[name] for name in names]


def _future(fit, kept, steps, last_year):
    """(mean, log_scale) of the ``steps`` years after ``last_year``, (series, steps).

    With ``kept``, each series' path is computed once, as far as YEAR_MAX (or ``steps``, when a
    history ends so early that it is further), and every later request slices it: the recursion
    was the largest part of a varied forecast request's own work."""
    if kept is None:
        return longrange.predict(fit, steps)
    short = [row for row, k in enumerate(kept) if k.path is None or len(k.path[0]) < steps]
    if short:
        horizon = max(steps, YEAR_MAX - last_year)
        mean, scale = longrange.predict(longrange.Fit.stack([kept[r].fit for r in short]), horizon)
        for position, row in enumerate(short):
            kept[row].path = (mean[position], scale[position])
    paths = [k.path for k in kept]
    mean = np.stack([path[0][:steps] for path in paths])
    scale = np.stack([path[1][:steps] for path in paths])
    return mean, scale


def _flatten_constant(members, first, start, value, lower, upper):
    """A constant series forecasts itself exactly, with a zero-width interval, from its second
    year on (exp(log(x)) is x only to rounding, and a one-step prediction needs a year before)."""
    for row, (years, values) in enumerate(members):
        values = np.asarray(values, dtype=float)
        if np.all(values == values[0]):
            begin = max(0, int(years[0]) + 1 - start)
            value[row, begin:] = lower[row, begin:] = upper[row, begin:] = values[0]


def _keep_shares(mean, last_log, table, keys) -> None:
    """Forecasts ``mean`` of the rounded tiny series that keep only a share of their change
    (longrange_calibration.growth_shares), in place; the others are left exactly as they are."""
    if table is None or not table.shares:
        return
    shares = np.array([table.share(key) for key in keys])
    rows = shares < 1.0
    if rows.any():
        mean[rows] = longrange.with_share(last_log[rows], mean[rows], shares[rows])


def _bounds(mean, scale, table, horizons, level, keys):
    if table is None:
        return longrange_table.normal_interval(mean, scale, level)
    return longrange_table.interval(mean, scale, table, horizons, level, table.factor_rows(keys))
