"""Fit and predict (the batched AutoReg core), backtests and calibrated intervals; no Django.

Callers import what they use from here: forecast_many and forecast, Point and Forecast,
backtest_many, calibrate and CalibrationTable. The limits and choices are in forecasts.rules.
"""

import importlib

from forecasts.rules import ForecastError

# Where each public name lives. The package loads a submodule (and numpy with it) when one of
# its names, or the submodule itself, is first used: the site's checks, admin and URL
# configuration import the services that call the models without forecasting anything, and
# numpy with the models was a sixth of a cold `manage.py check`.
_HOMES = {
    "select_lags": "autoreg",
    "BacktestResult": "backtesting",
    "BacktestSummary": "backtesting",
    "backtest": "backtesting",
    "backtest_many": "backtesting",
    "CalibrationTable": "calibration",
    "calibrate": "calibration",
    "calibration_origins": "calibration",
    "Forecast": "forecasting",
    "Point": "forecasting",
    "calibrated": "forecasting",
    "forecast": "forecasting",
    "forecast_many": "forecasting",
    "normal_quantile": "forecasting",
    "model_version": "versions",
}


def __getattr__(name: str):
    """The public name ``name`` (or the submodule of that name), imported on first use."""
    if name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    else:
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


__all__ = ["ForecastError", *_HOMES]
