"""The vectorized forecast core: equal to statsmodels' AutoReg, region by region, and its methods.

No database: the real file is read with forecasts.wpp. Tests on it skip when ../shared/data is
absent.
"""

import functools
import warnings

import numpy as np
import pytest
from statsmodels.tsa.ar_model import AutoReg, ar_select_order
from statsmodels.tsa.arima_process import arma2ma

from forecasts import rules, wpp
from forecasts.modeling import Forecast, ForecastError, forecast, forecast_many, select_lags
from tests.conftest import WPP2019_FILE

HOLY_SEE = 336
# The AutoReg methods and the series each fits (the damped default has a fixed order of its own).
TRANSFORMS = {
    "levels": lambda values: values,
    "log": np.log,
    "diff": np.diff,
    "growth": lambda values: np.diff(np.log(values)),
    "diff2": lambda values: np.diff(values, n=2),
    "growth2": lambda values: np.diff(np.log(values), n=2),
}


@functools.cache
def read_wpp2019_estimates() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Region code -> (years, persons) of the Estimates of every region with data."""
    rows: dict[int, list[tuple[int, int]]] = {}
    for chunk in wpp.read(WPP2019_FILE).chunks():
        estimates = chunk[chunk["variant"] == wpp.ESTIMATES]
        for code, year, persons in estimates[["region_code", "year", "persons"]].itertuples(
            index=False
        ):
            rows.setdefault(int(code), []).append((int(year), int(persons)))
    return {
        code: (
            np.array([year for year, _ in sorted(pairs)]),
            np.array([persons for _, persons in sorted(pairs)], dtype=float),
        )
        for code, pairs in rows.items()
    }


def wpp2019_estimates():
    if not WPP2019_FILE.is_file():
        pytest.skip(f"{WPP2019_FILE} is absent (it lives in ../shared/data beside the project)")
    return read_wpp2019_estimates()


@pytest.fixture(scope="module")
def estimates():
    return wpp2019_estimates()


def in_log_space(value, lower, upper):
    """statsmodels' interval v -+ w as the project gives it for a model fitted in persons: the
    same relative half-width in log space, v * exp(-+ w / v), positive for any positive v. A value
    of 0 or less (a shrinking region's levels model late in the century) keeps statsmodels' bounds:
    the services refuse to show it."""
    if value <= 0:
        return value, lower, upper
    return value, value * np.exp(-(value - lower) / value), value * np.exp((upper - value) / value)


def statsmodels_predictions(values, first_year, *, start, end, lags, level, in_persons=True):
    """Year -> (value, lower, upper) from statsmodels AutoReg, for the years it can predict;
    with ``in_persons``, the interval as the project gives it (``in_log_space``).

    statsmodels refuses to start past the first year after the history, so predict from there at
    the latest and keep the years asked for.
    """
    history = np.asarray(values, dtype=float)
    first_predictable = first_year + lags
    if end < first_predictable:
        return {}
    from_index = min(max(start, first_predictable) - first_year, len(history))
    to_index = end - first_year
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        fitted = AutoReg(history, lags=lags, trend="c").fit()
        frame = fitted.get_prediction(start=from_index, end=to_index).summary_frame(alpha=1 - level)
    shape = in_log_space if in_persons else lambda *triple: triple
    return {
        first_year + index: shape(row.mean, row.mean_ci_lower, row.mean_ci_upper)
        for index, row in zip(
            range(from_index, to_index + 1), frame.itertuples(index=False), strict=True
        )
        if first_year + index >= start
    }


def assert_matches_statsmodels(result: Forecast, years, values, *, start, end, lags, level):
    expected = statsmodels_predictions(
        values, int(years[0]), start=start, end=end, lags=lags, level=level
    )
    assert [point.year for point in result.points] == list(range(start, end + 1))
    predicted = {
        point.year: (point.value, point.lower, point.upper)
        for point in result.points
        if point.value is not None
    }
    assert predicted.keys() == expected.keys()
    for year, triple in expected.items():
        assert predicted[year] == pytest.approx(triple, rel=1e-9, abs=0), year


def is_constant(values):
    return bool(np.all(values == values[0]))


def test_wpp2019_has_285_regions_with_estimates_from_1950_to_2020(estimates):
    assert len(estimates) == 285
    assert {(int(years[0]), int(years[-1]), len(years)) for years, _ in estimates.values()} == {
        (1950, 2020, 71)
    }


@pytest.mark.slow
@pytest.mark.parametrize("lags", [1, 2, 5])
@pytest.mark.parametrize(("start", "end"), [(1950, 2035), (2030, 2035)])
def test_batch_equals_statsmodels_on_every_wpp2019_region(estimates, lags, start, end):
    """1950–2035 holds years without a prediction, in-sample years, the first predictable year
    and out-of-sample years; 2030–2035 starts past the history."""
    codes = [code for code, (_, values) in estimates.items() if not is_constant(values)]
    results = forecast_many([estimates[code] for code in codes], start=start, end=end, lags=lags)
    for code, result in zip(codes, results, strict=True):
        years, values = estimates[code]
        assert result.lags == lags
        assert_matches_statsmodels(
            result, years, values, start=start, end=end, lags=lags, level=0.95
        )


@pytest.mark.slow
@pytest.mark.parametrize("lags", [1, 2, 5])
def test_single_forecast_equals_statsmodels_on_every_wpp2019_region(estimates, lags):
    for years, values in estimates.values():
        if is_constant(values):
            continue
        result = forecast(years, values, start=2015, end=2030, lags=lags, level=0.8)
        assert_matches_statsmodels(
            result, years, values, start=2015, end=2030, lags=lags, level=0.8
        )


def test_single_forecast_is_the_batch_entry_for_that_series(estimates):
    histories = list(estimates.values())[:40]
    batch = forecast_many(histories, start=2000, end=2030, lags=3)
    for (years, values), entry in zip(histories, batch, strict=True):
        assert forecast(years, values, start=2000, end=2030, lags=3) == entry


def test_constant_wpp2019_series_is_flat_with_zero_width_in_the_batch(estimates):
    [result] = forecast_many([estimates[HOLY_SEE]], start=2018, end=2035, lags=5)
    flat = estimates[HOLY_SEE][1][0]
    assert {(point.value, point.lower, point.upper) for point in result.points} == {
        (flat, flat, flat)
    }


@pytest.mark.parametrize("method", list(rules.METHODS))
def test_constant_series_is_flat_with_zero_width_for_every_method(method):
    [result] = forecast_many(
        [(range(1990, 2020), [640.0] * 30)], start=1993, end=2040, lags=2, method=method
    )
    assert {
        (point.value, point.lower, point.upper) for point in result.points if point.year >= 1995
    } == {(640.0, 640.0, 640.0)}


@pytest.mark.slow
@pytest.mark.parametrize("method", list(TRANSFORMS))
def test_auto_lags_pick_what_ar_select_order_picks_on_every_wpp2019_region(estimates, method):
    for _, values in estimates.values():
        target = TRANSFORMS[method](values)
        if is_constant(target):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            chosen = ar_select_order(target, maxlag=10, ic="aic", trend="c").ar_lags
        assert select_lags(target) == (max(chosen) if chosen else 1)


def test_auto_forecast_fits_and_reports_each_series_chosen_order(estimates):
    histories = list(estimates.values())
    results = forecast_many(histories, start=2019, end=2030, lags="auto")
    for (years, values), result in zip(histories, results, strict=True):
        assert result.lags == select_lags(values)
        assert result == forecast(years, values, start=2019, end=2030, lags=result.lags)
    assert len({result.lags for result in results}) > 3


def test_select_lags_gives_1_to_short_and_constant_series():
    assert select_lags([5.0, 6.0, 8.0]) == 1
    assert select_lags([7.0] * 40) == 1
    assert select_lags([]) == 1


def test_select_lags_tries_at_most_half_the_series():
    rng = np.random.default_rng(6)
    values = np.cumsum(rng.normal(size=12))
    assert 1 <= select_lags(values) <= 5


def test_failed_series_hold_their_error_in_place_and_the_others_succeed():
    good = (range(1990, 2020), [100.0 + 3 * i + (i % 3) for i in range(30)])
    results = forecast_many(
        [good, (range(2000, 2003), [1.0, 2.0, 4.0]), ([2000, 2002, 2003], [1.0, 2.0, 3.0]), good],
        start=2020,
        end=2022,
        lags=2,
    )
    assert isinstance(results[0], Forecast) and results[0] == results[3]
    assert isinstance(results[1], ForecastError)
    assert str(results[1]) == "The history has 3 years; lags=2 needs at least 4."
    assert "consecutive years" in str(results[2])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"start": 2040, "end": 2030}, "must not be after"),
        ({"lags": 11}, "Lags must be a whole number from 1 to 10"),
        ({"lags": "often"}, 'Lags must be a whole number from 1 to 10, or "auto"; got'),
        ({"level": 1.0}, "between 0 and 1"),
        (
            {"method": "spline"},
            "The method must be one of levels, log, diff, growth, diff2, growth2",
        ),
    ],
)
def test_settings_errors_raise_for_the_whole_batch(settings, message):
    arguments = {"start": 2020, "end": 2030, **settings}
    with pytest.raises(ForecastError, match=message):
        forecast_many([(range(1990, 2020), list(range(30)))], **arguments)


def test_series_of_different_lengths_and_first_years_match_one_by_one(estimates):
    chosen = list(estimates.values())[:6]
    histories = [
        (years[offset:], values[offset:])
        for offset, (years, values) in zip([0, 5, 5, 20, 40, 0], chosen, strict=True)
    ]
    batch = forecast_many(histories, start=2010, end=2025, lags=2, method="diff2")
    for (years, values), entry in zip(histories, batch, strict=True):
        assert entry == forecast(years, values, start=2010, end=2025, lags=2, method="diff2")


def test_diff_method_adds_statsmodels_forecasts_of_yearly_changes_back_up(estimates):
    years, values = estimates[250]
    changes = np.diff(values)
    fitted = AutoReg(changes, lags=3, trend="c").fit()
    steps = 15
    expected = values[-1] + np.cumsum(
        fitted.predict(start=len(changes), end=len(changes) + steps - 1)
    )
    psi = arma2ma(np.r_[1, -fitted.params[1:]], np.ones(1), lags=steps)
    half_width = 1.959963984540054 * np.sqrt(fitted.sigma2 * np.cumsum(np.cumsum(psi) ** 2))

    result = forecast(years, values, start=2021, end=2035, lags=3, method="diff")
    assert [point.value for point in result.points] == pytest.approx(expected, rel=1e-12)
    relative = half_width / np.array([point.value for point in result.points])
    assert [np.log(point.upper / point.value) for point in result.points] == pytest.approx(
        relative, rel=1e-9
    )
    assert [np.log(point.value / point.lower) for point in result.points] == pytest.approx(
        relative, rel=1e-9
    )


def test_diff2_in_sample_prediction_is_the_recorded_trend_plus_the_predicted_change(estimates):
    years, values = estimates[384]
    second = np.diff(values, n=2)
    fitted = AutoReg(second, lags=2, trend="c").fit()
    result = forecast(years, values, start=1950, end=2020, lags=2, method="diff2")
    assert [point.value for point in result.points[:4]] == [None] * 4
    for point in result.points[4:]:
        at = point.year - 1950
        trend = 2 * values[at - 1] - values[at - 2]
        assert point.value == pytest.approx(
            trend + fitted.predict(start=at - 2, end=at - 2)[0], rel=1e-12
        )
        half_width = 1.959963984540054 * np.sqrt(fitted.sigma2)
        assert np.log(point.upper / point.value) == pytest.approx(
            half_width / point.value, rel=1e-9
        )


def test_log_method_is_the_exponential_of_autoreg_on_the_logarithm(estimates):
    years, values = estimates[900]
    start, end = 2010, 2030
    expected = statsmodels_predictions(
        np.log(values), 1950, start=start, end=end, lags=2, level=0.9, in_persons=False
    )
    result = forecast(years, values, start=start, end=end, lags=2, level=0.9, method="log")
    for point in result.points:
        assert (point.value, point.lower, point.upper) == pytest.approx(
            np.exp(expected[point.year]), rel=1e-9
        )


def test_growth_method_compounds_the_forecast_growth_rates(estimates):
    years, values = estimates[900]
    rates = np.diff(np.log(values))
    fitted = AutoReg(rates, lags=1, trend="c").fit()
    expected = values[-1] * np.exp(np.cumsum(fitted.predict(start=len(rates), end=len(rates) + 9)))
    result = forecast(years, values, start=2021, end=2030, lags=1, method="growth")
    assert [point.value for point in result.points] == pytest.approx(expected, rel=1e-12)
    assert all(point.lower < point.value < point.upper for point in result.points)


def test_linear_series_with_diff_extends_exactly_with_a_zero_width_interval():
    result = forecast(
        range(2000, 2010), [50.0 + 7 * i for i in range(10)], start=2010, end=2012, method="diff"
    )
    assert [(point.value, point.lower, point.upper) for point in result.points] == [
        (120.0, 120.0, 120.0),
        (127.0, 127.0, 127.0),
        (134.0, 134.0, 134.0),
    ]


@pytest.mark.parametrize("method", ["log", "growth", "growth2"])
def test_log_methods_refuse_values_of_zero_or_less(method):
    with pytest.raises(ForecastError, match=f"The method '{method}' needs positive values"):
        forecast(
            range(2000, 2010),
            [3.0, 2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            start=2010,
            end=2011,
            method=method,
        )


def test_differenced_methods_need_their_differences_on_top_of_lags_plus_two():
    with pytest.raises(
        ForecastError, match="has 5 years; lags=2 with method 'diff2' needs at least 6"
    ):
        forecast(
            range(2000, 2005),
            [1.0, 2.0, 4.0, 7.0, 11.0],
            start=2005,
            end=2006,
            lags=2,
            method="diff2",
        )


def test_recommended_settings_are_valid_choices():
    assert rules.DEFAULT_METHOD in rules.METHODS
    rules.check_lags(rules.DEFAULT_LAGS)
    assert rules.ORIGINAL_METHOD == "levels" and rules.ORIGINAL_LAGS == 1


def test_too_few_years_to_estimate_every_coefficient_is_refused_not_fitted_exactly():
    """statsmodels refuses 6 years with lags=3 (3 equations, 4 coefficients); so does forecast."""
    with pytest.raises(
        ForecastError, match="has 6 years; lags=3 needs at least 7 to estimate its 4 coefficients"
    ):
        forecast(range(2000, 2006), [1.0, 2.0, 4.0, 7.0, 11.0, 12.0], start=2006, end=2007, lags=3)
