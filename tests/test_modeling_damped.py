"""The default model's guarantees, checked on every WPP2019 region (issue 12, points 1-3).

Positive by construction to 2100 at any level, no explosive fit from any origin, intervals that
widen with the horizon and never collapse, a calibration table that reaches 2100, and one code path:
`backtest --holdout N` scores exactly what `forecast` shows from the same cut data, a single
series equals its entry in a batch. No database: the real file is read with forecasts.wpp (tests
skip when ../shared/data is absent). The tables (about half a second each) are built once a module.
"""

import numpy as np
import pytest

from forecasts import modeling
from forecasts.modeling import damped, longrange, longrange_calibration, longrange_table
from tests.test_modeling_autoreg import HOLY_SEE, wpp2019_estimates

LAST_YEAR = 2020
END = 2100
LEVELS = (0.5, 0.8, 0.95, 0.99, 0.9999)
LOG_METHODS = ("log", "growth", "growth2")
FIRST_YEAR = 1950


@pytest.fixture(scope="module")
def estimates():
    return wpp2019_estimates()


@pytest.fixture(scope="module")
def table(estimates):
    """The table the site uses for WPP2019: every region's full history, origins 1960..2019."""
    return damped.table_from_json(damped.calibrate(estimates, last_year=LAST_YEAR))


@pytest.fixture(scope="module")
def to_2100(estimates, table):
    """level -> (value, lower, upper) arrays (regions, 2021..2100) of the default's forecast."""
    return {level: forecast_arrays(estimates, table, level) for level in LEVELS}


def cut(histories, last_year):
    return {
        code: (years[years <= last_year], values[years <= last_year])
        for code, (years, values) in histories.items()
    }


def forecast_arrays(histories, table, level, start=LAST_YEAR + 1, end=END):
    """(value, lower, upper) of damped.forecast_many as arrays; NaN where a point has no value."""
    forecasts = damped.forecast_many(
        list(histories.values()),
        start=start,
        end=end,
        level=level,
        table=table,
        keys=list(histories),
    )
    return as_arrays(forecasts)


def as_arrays(forecasts):
    triples = np.array(
        [[(p.value, p.lower, p.upper) for p in outcome.points] for outcome in forecasts],
        dtype=float,
    )
    return triples[..., 0], triples[..., 1], triples[..., 2]


def constant_rows(histories) -> np.ndarray:
    return np.array([np.all(values == values[0]) for _, values in histories.values()])


# 1. Positive by construction -------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_the_default_is_positive_and_finite_to_2100_for_every_region(to_2100, level):
    """Every value and bound is exp() of something finite: > 0 at any level, however far ahead."""
    for array in to_2100[level]:
        assert np.all(np.isfinite(array))
        assert np.all(array > 0)


@pytest.mark.parametrize("lags", [1, 3])
@pytest.mark.parametrize("method", LOG_METHODS)
def test_log_space_autoreg_methods_stay_positive_to_2100(estimates, method, lags):
    """The AutoReg methods fitted to log population turn back into persons through exp(), so a
    value or bound they give is never 0 or less (an overflow gives no value, never a negative)."""
    forecasts = modeling.forecast_many(
        list(estimates.values()), start=LAST_YEAR + 1, end=END, lags=lags, method=method
    )
    value, lower, upper = as_arrays(forecasts)
    for array in (value, lower, upper):
        given = array[np.isfinite(array)]
        assert given.size and np.all(given > 0)
    assert np.all(np.isnan(value) == np.isnan(lower))


AUTOREG_METHODS = ("levels", "log", "diff", "growth", "diff2", "growth2")


@pytest.mark.parametrize("calibrated", [False, True])
@pytest.mark.parametrize("lags", [1, 3])
@pytest.mark.parametrize("method", AUTOREG_METHODS)
def test_every_method_gives_positive_bounds_for_every_positive_value_to_2100(
    estimates, method, lags, calibrated
):
    """Every method, every region, 1950..2100, at a narrow, the default and a wide level, with
    the model's own and with calibrated intervals: a bound is never 0 or less while the value is
    positive. Methods fitted in persons can still run their value below zero (the services refuse
    those years: test_api_forecast); the bounds never do it on their own."""
    table = (
        modeling.calibrate(
            estimates, origins=modeling.calibration_origins(LAST_YEAR), lags=lags, method=method
        )
        if calibrated
        else None
    )
    for level in (0.5, 0.95, 0.999):
        forecasts = modeling.forecast_many(
            list(estimates.values()),
            start=FIRST_YEAR,
            end=END,
            lags=lags,
            level=level,
            method=method,
            calibration=table,
            keys=list(estimates),
        )
        value, lower, upper = as_arrays(forecasts)
        shown = np.isfinite(value) & (value > 0)
        assert shown.sum() > 0.9 * np.isfinite(value).sum()
        assert np.all(np.isfinite(lower[shown]) & np.isfinite(upper[shown]))
        assert np.all((lower[shown] > 0) & (lower[shown] <= value[shown]))
        assert np.all(value[shown] <= upper[shown])


# 2. No explosive fits --------------------------------------------------------------------------


def test_no_fit_is_explosive_at_any_origin_from_1960_to_2010(estimates):
    """Every AR fit of the change of growth is stationary: its largest companion root (over both
    ensemble members) is inside the unit circle, so no forecast compounds an accelerating growth."""
    for origin in range(1960, 2011):
        past = cut(estimates, origin)
        fit = longrange.fit(np.stack([values for _, values in past.values()]))
        worst = int(np.argmax(fit.max_root))
        assert fit.max_root[worst] < 1, (origin, list(past)[worst], fit.max_root[worst])


# 3. Intervals honest at every horizon ----------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_interval_widths_never_shrink_with_the_horizon(estimates, to_2100, level):
    """Further ahead is never more certain: for every region, the interval's relative width
    log(upper / lower) is non-decreasing from 2021 to 2100 (relative, because a shrinking
    population's interval in persons may narrow while its uncertainty grows)."""
    _, lower, upper = to_2100[level]
    width = np.log(upper / lower)
    steps = np.diff(width, axis=1)
    regions = list(estimates)
    bad = np.nonzero(np.any(steps < -1e-12, axis=1))[0]
    assert not bad.size, [(regions[row], float(steps[row].min())) for row in bad[:5]]


@pytest.mark.parametrize("last_year", [1990, LAST_YEAR])
def test_the_table_reaches_every_horizon_to_2100(estimates, table, last_year):
    """Measured horizons plus the power-law extrapolation give a finite quantile at every horizon
    from 1 to 2100 - 1950, whatever year the data stop (a 1990 table measures fewer horizons)."""
    used = (
        table
        if last_year == LAST_YEAR
        else damped.table_from_json(
            damped.calibrate(cut(estimates, last_year), last_year=last_year)
        )
    )
    horizons = np.arange(1, END - FIRST_YEAR + 1)
    assert 0 < used.measured < len(horizons)
    for prob in (0.00005, 0.025, 0.25, 0.5, 0.75, 0.975, 0.99995):
        assert np.all(np.isfinite(used.quantile(prob, horizons)))
    mean = np.full((1, len(horizons)), 1e6)
    lower, upper = longrange_table.interval(
        mean, 0.01 * horizons[None, :], used, horizons, 0.95, 1.0
    )
    assert np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))
    assert np.all(lower < mean) and np.all(mean < upper)


@pytest.mark.parametrize("level", LEVELS)
def test_the_interval_never_collapses_unless_the_series_is_constant(estimates, to_2100, level):
    """upper / lower > 1 for every varying region and horizon; a constant series (Holy See)
    forecasts itself with a zero-width interval."""
    value, lower, upper = to_2100[level]
    constant = constant_rows(estimates)
    assert list(np.array(list(estimates))[constant]) == [HOLY_SEE]
    assert np.all(upper[~constant] / lower[~constant] > 1)
    assert np.all(lower[constant] == value[constant]) and np.all(upper[constant] == value[constant])


@pytest.mark.slow
@pytest.mark.parametrize("holdout", [10, 20, 30])
def test_backtest_scores_exactly_what_forecast_shows_and_covers_90_to_97_percent(
    estimates, holdout
):
    """`backtest --holdout N` and `forecast` are one computation: a forecast of the held-out years
    from the data cut at 2020 - N, with the table built from that cut data, equals point for point
    what backtest_many scored. The coverage of those 95% intervals (the figure bench_accuracy.py
    shows for the 2010 h=10, 2000 h=20 and 1990 h=30 windows) lies in 90-97%."""
    origin = LAST_YEAR - holdout
    past = cut(estimates, origin)
    table = damped.table_from_json(damped.calibrate(past, last_year=origin))
    shown = forecast_arrays(past, table, 0.95, start=origin + 1, end=LAST_YEAR)
    summary = modeling.backtest_many(estimates, holdout=holdout, method="damped", calibration=table)
    scored = as_arrays(summary.results[code] for code in estimates)
    for ours, theirs in zip(shown, scored, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert 0.90 <= summary.coverage <= 0.97


def test_one_series_alone_equals_its_entry_in_the_batch(estimates, table):
    """The site forecasts one region and `forecast --all` every region through the same batch
    code: a region's forecast does not depend on which others are fitted with it."""
    codes = [900, HOLY_SEE, *list(estimates)[::15]]
    batch = damped.forecast_many(
        list(estimates.values()), start=2015, end=END, level=0.9, table=table, keys=list(estimates)
    )
    by_code = dict(zip(estimates, batch, strict=True))
    for code in codes:
        [alone] = damped.forecast_many(
            [estimates[code]], start=2015, end=END, level=0.9, table=table, keys=[code]
        )
        assert alone == by_code[code], code


def test_kept_fits_give_the_same_forecasts_to_the_last_bit(estimates, table, monkeypatch):
    """The site keeps each region's fit per data version (``fits``): requests of other years,
    levels and companions reuse it, fit nothing again, and forecast exactly what a fresh fit
    does; a history ending in another year is a different fit, not the kept one."""
    fits = {}
    codes = list(estimates)
    asks = [
        (codes[::7], 2021, 2030, 0.95),
        (codes[::3], 2030, END, 0.8),
        ([900, HOLY_SEE], 2021, 2021, 0.99),
        (codes, 2015, END, 0.9),  # in-sample years too
    ]
    for chosen, start, end, level in asks:
        histories = [estimates[code] for code in chosen]
        kept = damped.forecast_many(
            histories, start=start, end=end, level=level, table=table, keys=chosen, fits=fits
        )
        fresh = damped.forecast_many(
            histories, start=start, end=end, level=level, table=table, keys=chosen
        )
        assert kept == fresh
    assert len(fits) == len([c for c in codes if len(estimates[c][0]) >= damped.MIN_YEARS])
    # The same kept fits answer forecasts without a table (the world ranking) with its bounds.
    histories = [estimates[code] for code in codes[::7]]
    for table_or_none in (None, table):
        kept = damped.forecast_many(
            histories,
            start=2025,
            end=2040,
            level=0.95,
            table=table_or_none,
            keys=codes[::7],
            fits=fits,
        )
        fresh = damped.forecast_many(
            histories, start=2025, end=2040, level=0.95, table=table_or_none, keys=codes[::7]
        )
        assert kept == fresh

    calls, recursions = [], []
    original_fit, original_predict = longrange.fit, longrange.predict
    monkeypatch.setattr(
        longrange, "fit", lambda matrix: calls.append(len(matrix)) or original_fit(matrix)
    )
    monkeypatch.setattr(
        longrange,
        "predict",
        lambda fit, steps: recursions.append(steps) or original_predict(fit, steps),
    )
    [kept] = damped.forecast_many(
        [estimates[900]], start=2040, end=2050, level=0.5, table=table, keys=[900], fits=fits
    )
    [fresh] = damped.forecast_many(
        [estimates[900]], start=2040, end=2050, level=0.5, table=table, keys=[900]
    )
    # The kept path (to YEAR_MAX) answers a later request without running the recursion again.
    assert calls == [1] and recursions == [2050 - 2020] and kept == fresh
    calls.clear()
    shorter = cut({900: estimates[900]}, 2000)[900]
    [from_2000] = damped.forecast_many(
        [shorter], start=2001, end=2010, level=0.95, table=table, keys=[900], fits=fits
    )
    [fresh_2000] = damped.forecast_many(
        [shorter], start=2001, end=2010, level=0.95, table=table, keys=[900]
    )
    assert calls == [1, 1] and from_2000 == fresh_2000


def test_kept_fits_still_refuse_a_series_that_fails_its_checks(estimates, table):
    """Only a series that passed its checks is fitted and kept, so a kept fit may stand for them;
    a series that fails them is refused on every call, with or without kept fits, and its
    companions are forecast."""
    fits = {}
    years, values = estimates[900]
    with_zero = (years, np.where(years == 2000, 0.0, values))
    for _ in range(2):
        refused, kept = damped.forecast_many(
            [with_zero, estimates[901]],
            start=2021,
            end=2030,
            level=0.95,
            table=table,
            keys=[900, 901],
            fits=fits,
        )
        assert isinstance(refused, modeling.ForecastError)
        assert "positive values" in str(refused)
        assert kept.points[0].value > 0
    assert (900, 1950, 2020) not in fits and (901, 1950, 2020) in fits


# The local trend of smooth series -------------------------------------------------------------


def _growth_path(persons, steps, monkeypatch, local_weight):
    """The forecast's yearly growth rates for a series (no calibration involved)."""
    monkeypatch.setattr(longrange, "LOCAL_WEIGHT", local_weight)
    matrix = np.asarray([persons], dtype=float)
    mean, _ = longrange.predict(longrange.fit(matrix), steps)
    return np.diff(np.log(np.concatenate([matrix[:, -1:], mean], axis=1)), axis=1)[0]


def test_a_steady_turn_of_growth_carries_on_in_the_first_years(monkeypatch):
    """A country whose growth has fallen by 0.05 points a year for decades (the demographic
    transition) keeps falling next year: with the local trend the first years follow the turn
    more closely than the AR members alone, and the path stays positive."""
    years = np.arange(71)
    growth = 0.03 - 0.0005 * years
    persons = 5e6 * np.exp(np.cumsum(growth))
    truth = 0.03 - 0.0005 * np.arange(71, 76)
    with_local = _growth_path(persons, 5, monkeypatch, 1.0)
    without = _growth_path(persons, 5, monkeypatch, 0.0)
    assert np.abs(with_local - truth).mean() < 0.8 * np.abs(without - truth).mean()


def test_a_wiggly_series_is_left_to_the_ar_members(monkeypatch):
    """Growth that jumps about from year to year has no local trend worth following: the gate
    closes and the forecast is the members' (a hundredth of a point of growth at most)."""
    rng = np.random.default_rng(3)
    growth = 0.02 + rng.normal(0, 0.01, 70)
    persons = 1e6 * np.exp(np.cumsum(growth))
    with_local = _growth_path(persons, 10, monkeypatch, 1.0)
    without = _growth_path(persons, 10, monkeypatch, 0.0)
    assert np.abs(with_local - without).max() < 1e-4


def _scores(seed, origins, horizons, size):
    """Backtest scores of 60 regions r0..r59 from ``origins`` at horizons 1..``horizons``: standard
    normal draws times ``size(region, origin, h)``; (keys, horizons, scores, origins) arrays."""
    rng = np.random.default_rng(seed)
    rows = [
        (f"r{region}", h, origin, rng.normal() * size(region, origin, h))
        for region in range(60)
        for origin in origins
        for h in range(1, horizons + 1)
    ]
    keys, hs, orig, scores = (np.array(column) for column in zip(*rows, strict=True))
    return keys, hs, scores, orig


def test_a_region_factor_follows_the_largest_past_errors():
    """Region factors are led by a region's largest errors (a war, a migration): of two regions
    whose errors have the same mean square, the one with a single very large error gets the
    larger factor, so its interval is the wide one; ordinary regions stay near the middle."""
    keys, hs, scores, orig = _scores(7, range(1990, 2010), 5, lambda region, origin, h: 1.0)
    jumpy, steady = keys == "r0", keys == "r1"
    scores[jumpy] = np.where(np.arange(jumpy.sum()) == 50, 25.0, 0.5)
    scores[steady] = np.sqrt(np.mean(scores[jumpy] ** 2))  # the same mean square, spread evenly
    weights = longrange_calibration._origin_weights(hs, orig, 5, 2010)

    factors, _, _ = longrange_calibration._region_factors(keys, hs, scores, weights, 5)

    last = {key: values[-1] for key, values in factors.items()}  # all horizons: the far ones'
    ordinary = np.median([last[f"r{region}"] for region in range(2, 60)])
    assert last["r0"] > 1.5 * last["r1"]
    assert last["r0"] > 1.5 * ordinary


def test_region_factors_differ_by_horizon_band():
    """A region whose forecasts missed by far at ten years (a war, a migration) but were ordinary
    one year ahead gets a large factor for the far horizons and an ordinary one for next year:
    its one-year interval is not widened by its ten-year misses (one factor for all horizons
    widened both)."""

    def size(region, origin, h):
        return 8.0 if region == 0 and h >= 6 and origin >= 2000 else 1.0  # region 0's far misses

    keys, hs, scores, orig = _scores(11, range(1980, 2010), 10, size)
    weights = longrange_calibration._origin_weights(hs, orig, 10, 2010)

    factors, _, _ = longrange_calibration._region_factors(keys, hs, scores, weights, 10)

    ordinary = np.median([factors[f"r{region}"][0] for region in range(1, 60)])
    assert len(factors["r0"]) == len(longrange_calibration.BANDS)
    assert factors["r0"][0] < 1.2 * ordinary
    assert factors["r0"][-1] > 2 * ordinary


def test_a_table_weighs_the_origins_in_its_forecasts_phase_of_the_five_year_cycle():
    """WPP's yearly estimates are built on five-year steps; forecasts from an origin on a step
    (1990, 1995 ...) miss by less than those from between the steps. A table for forecasts from
    2010 reads its widths mostly from the origins 2005, 2000 ...; a table for 2012 from 2007,
    2002 ...: with the steps' origins missing by a third as much, the 2010 table is the narrow one, and
    narrower than one that pooled every origin alike."""

    def size(region, origin, h):
        return 1.0 if origin % 5 == 0 else 3.0

    keys, hs, scores, orig = _scores(5, range(1980, 2010), 3, size)

    def upper(start):
        table = longrange_calibration.table_from_scores(
            keys, hs, scores, orig, range(1980, 2010), 3, [1.0] * 60, {}, start
        )
        return table.quantile(0.75, np.array([1, 2, 3]))  # a 50 % interval's upper side

    pooled = np.quantile(scores, 0.75)
    assert np.all(upper(2010) < 0.9 * upper(2012))
    assert np.all(upper(2010) < 0.9 * pooled)


def _stepwise_growth(seed, series, years, origin_offset):
    """Growth rates of ``series`` histories built as WPP builds yearly estimates: within each
    five-year step the change of growth changes at a constant pace (a smooth curve), and the pace
    is drawn anew at every step; the last year is ``origin_offset`` years after a step."""
    rng = np.random.default_rng(seed)
    pace = np.repeat(rng.normal(0, 2e-4, (series, years // 5 + 2)), 5, axis=1)
    pace = pace[:, 5 - origin_offset : 5 - origin_offset + years]
    return 0.02 + np.cumsum(np.cumsum(pace, axis=1), axis=1) * 0.1


def test_the_local_trend_keeps_bending_for_as_long_as_the_series_record_says():
    """From an origin between two of WPP's five-year steps, the growth's curve goes on bending
    as it did (its own record shows it), for several years; from an origin on a step, it bends
    anew, and for many series the record says the last change of growth is the better guide.
    No calendar year is assumed a step."""
    between = longrange.curvature_years(_stepwise_growth(1, 40, 60, origin_offset=2))
    on_a_step = longrange.curvature_years(_stepwise_growth(1, 40, 60, origin_offset=0))
    assert np.all((between >= 0) & (between <= longrange.CURVE_AHEAD_MAX))
    assert np.mean(between > 0) > 0.9
    assert np.median(between) > 2  # longer than the two years of model version 6
    assert np.mean(on_a_step == 0) > 0.25
    assert between.mean() > on_a_step.mean() + 1.5


def test_an_ordinary_growth_rate_passes_the_cap_unchanged_next_year():
    """A region growing 2 %/year for decades is forecast to grow 2 %/year next year, not 1.96 %:
    the cap saturates only beyond KNEE near the origin (GCAP * tanh took 2 % of a 2 % growth,
    the largest part of the one-year error). Fast growth is still capped, and further ahead the
    pull towards slower growth applies."""
    persons = 1e6 * np.exp(0.02 * np.arange(71))
    mean, _ = longrange.predict(longrange.fit(persons[None, :]), 30)
    growth = np.diff(np.log(np.concatenate([persons[-1:], mean[0]])))
    assert growth[0] == pytest.approx(0.02, abs=1e-12)
    assert np.all(growth[5:] < 0.02)
    boom = 1e5 * np.exp(0.15 * np.arange(71))
    mean, _ = longrange.predict(longrange.fit(boom[None, :]), 1)
    assert np.log(mean[0, 0] / boom[-1]) < longrange.GCAP


@pytest.mark.parametrize(
    ("code", "origin"), [(772, 2010), (238, 2000)], ids=["Tokelau from 2010", "Falklands from 2000"]
)
def test_a_rounding_step_is_not_forecast_as_growth(estimates, code, origin):
    """Tokelau (1,000 people, published in thousands) stepped from 2,000 to 1,000 in 2001 and
    stayed there; the Falklands stepped from 2,000 to 3,000 in 1994. Read as growth rates, the
    steps made the forecast fall 7 %/year (25 % off over 2011-2020) and double (49 % off over
    2001-2020). Their calibration keeps a share of the forecast change chosen on their own past
    forecasts, so the forecast stays within 5 % of the record; a large country keeps its whole
    forecast (share 1)."""
    horizon = 2020 - origin
    past = cut(estimates, origin)
    table = damped.table_from_json(damped.calibrate(past, last_year=origin))
    value, _, _ = forecast_arrays({code: past[code]}, table, 0.95, origin + 1, 2020)
    years, persons = estimates[code]
    actual = persons[(years > origin) & (years <= 2020)]
    assert len(actual) == horizon
    assert np.mean(np.abs(value[0] - actual) / actual) < 0.05
    assert table.share(code) < 0.5
    assert table.share(900) == 1.0 and "900" not in table.shares
