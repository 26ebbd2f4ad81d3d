"""The forecasting core: the original app's numbers, intervals, and defined behaviour at the edges."""

import csv

import numpy as np
import pytest
from statsmodels.tsa.ar_model import AutoReg

from forecasts import rules
from forecasts.modeling import ForecastError, forecast


def original_app_series(path, name):
    """What the original Flask app fitted: the row's 1950–2020 values, in thousands."""
    with path.open(encoding="latin-1", newline="") as file:
        for row in csv.DictReader(file):
            if row["Region, subregion, country or area"] == name:
                return [float(row[str(year)].replace(" ", "")) for year in range(1950, 2021)]
    raise LookupError(name)


@pytest.mark.parametrize("name", ["WORLD", "More developed regions"])
def test_lags_1_reproduces_the_original_app_2030_to_2035(wpp2019_file, name):
    thousands = original_app_series(wpp2019_file, name)
    oracle = AutoReg(np.array(thousands), lags=1).fit().predict(start=2030 - 1950, end=2035 - 1950)
    result = forecast(
        range(1950, 2021), [value * 1000 for value in thousands], start=2030, end=2035
    )
    ours = [round(point.value / 1000) for point in result.points]
    assert ours == [round(value) for value in oracle]
    assert [point.year for point in result.points] == list(range(2030, 2036))


def test_world_2030_is_the_known_figure(wpp2019_file):
    thousands = original_app_series(wpp2019_file, "WORLD")
    result = forecast(
        range(1950, 2021), [value * 1000 for value in thousands], start=2030, end=2030
    )
    assert round(result.points[0].value, -3) == 8_745_733_000


LINEAR = [100.0 + 10 * i + (3 if i % 2 else -3) for i in range(30)]
YEARS = range(1990, 2020)


def test_years_inside_history_are_in_sample_predictions_beside_the_record():
    result = forecast(YEARS, LINEAR, start=2015, end=2022)
    inside = [point for point in result.points if point.year <= 2019]
    assert [point.actual for point in inside] == LINEAR[25:30]
    assert all(point.value is not None for point in inside)
    assert all(point.actual is None for point in result.points if point.year > 2019)
    fitted = AutoReg(np.array(LINEAR), lags=1, trend="c").fit()
    assert inside[0].value == pytest.approx(fitted.predict(start=25, end=25)[0])


def test_first_lags_years_have_no_prediction():
    result = forecast(YEARS, LINEAR, start=1990, end=1993, lags=2)
    assert [point.value for point in result.points[:2]] == [None, None]
    assert result.points[2].value is not None


def test_interval_contains_prediction_and_widens_with_horizon():
    result = forecast(YEARS, LINEAR, start=2020, end=2030, level=0.9)
    widths = [point.upper - point.lower for point in result.points]
    assert all(point.lower < point.value < point.upper for point in result.points)
    assert widths == sorted(widths)


def test_interval_matches_statsmodels_at_the_requested_level():
    result = forecast(YEARS, LINEAR, start=2020, end=2022, level=0.8)
    frame = (
        AutoReg(np.array(LINEAR), lags=1, trend="c")
        .fit()
        .get_prediction(30, 32)
        .summary_frame(alpha=0.2)
    )
    # statsmodels' v -+ w, as the same relative half-width in log space: v * exp(-+ w / v).
    mean, lower, upper = (
        frame[name].to_numpy() for name in ("mean", "mean_ci_lower", "mean_ci_upper")
    )
    assert [point.value for point in result.points] == pytest.approx(list(mean), rel=1e-12)
    assert [point.lower for point in result.points] == pytest.approx(
        list(mean * np.exp(-(mean - lower) / mean))
    )
    assert [point.upper for point in result.points] == pytest.approx(
        list(mean * np.exp((upper - mean) / mean))
    )


def test_higher_level_gives_a_wider_interval():
    narrow = forecast(YEARS, LINEAR, start=2025, end=2025, level=0.5).points[0]
    wide = forecast(YEARS, LINEAR, start=2025, end=2025, level=0.99).points[0]
    assert wide.upper - wide.lower > narrow.upper - narrow.lower


def test_constant_series_forecasts_itself_with_a_zero_width_interval():
    result = forecast(range(1950, 2021), [800.0] * 71, start=2019, end=2030, lags=3)
    assert {(point.value, point.lower, point.upper) for point in result.points} == {
        (800.0, 800.0, 800.0)
    }


def test_series_shorter_than_lags_plus_two_is_refused():
    with pytest.raises(ForecastError, match="has 4 years; lags=3 needs at least 5"):
        forecast(range(2000, 2004), [1.0, 2.0, 3.0, 5.0], start=2005, end=2006, lags=3)


def test_empty_history_is_refused():
    with pytest.raises(ForecastError, match="no recorded history"):
        forecast([], [], start=2020, end=2021)


def test_gapped_history_is_refused():
    with pytest.raises(ForecastError, match="consecutive years"):
        forecast([2000, 2001, 2003, 2004], [1.0, 2.0, 3.0, 4.0], start=2005, end=2006)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (1949, 2000, "start year must be between 1950 and 2100; got 1949"),
        (2000, 2101, "end year must be between 1950 and 2100; got 2101"),
        (2031, 2030, "start year (2031) must not be after the end year (2030)"),
    ],
)
def test_years_outside_limits_or_reversed_are_refused(start, end, message):
    with pytest.raises(ForecastError, match=message.replace("(", r"\(").replace(")", r"\)")):
        forecast(YEARS, LINEAR, start=start, end=end)


@pytest.mark.parametrize("lags", [0, 11])
def test_lags_outside_1_to_10_are_refused(lags):
    with pytest.raises(ForecastError, match="Lags must be a whole number from 1 to 10"):
        forecast(YEARS, LINEAR, start=2020, end=2021, lags=lags)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1])
def test_level_outside_0_1_is_refused(level):
    with pytest.raises(ForecastError, match="between 0 and 1"):
        forecast(YEARS, LINEAR, start=2020, end=2021, level=level)


def test_far_horizon_to_2100_is_finite():
    result = forecast(YEARS, LINEAR, start=2090, end=2100)
    assert all(
        np.isfinite([point.value, point.lower, point.upper]).all() for point in result.points
    )
    assert rules.YEAR_MAX == 2100


def test_the_package_gives_its_names_on_first_use_and_refuses_unknown_ones():
    """forecasts.modeling loads its submodules lazily; what it gives is what they define."""
    from forecasts import modeling
    from forecasts.modeling import damped, forecasting

    assert modeling.forecast_many is forecasting.forecast_many
    assert modeling.Point is forecasting.Point
    assert modeling.damped is damped
    for name in modeling.__all__:  # every public name is found where the package says it lives
        assert getattr(modeling, name).__name__ == name
    assert not hasattr(modeling, "no_such_name")
    with pytest.raises(AttributeError, match="no_such_name"):
        modeling.no_such_name  # noqa: B018
