"""Fit and predict (the batched AutoReg core), backtests and calibrated intervals; no Django.

Callers import what they use from here: forecast_many and forecast, Point and Forecast,
backtest_many, calibrate and CalibrationTable. The limits and choices are in forecasts.rules.
"""

from forecasts.rules import ForecastError

from .autoreg import select_lags
from .backtesting import BacktestResult, BacktestSummary, backtest, backtest_many
from .calibration import CalibrationTable, calibrate, calibration_origins
from .forecasting import Forecast, Point, calibrated, forecast, forecast_many, normal_quantile

__all__ = [
    "BacktestResult",
    "BacktestSummary",
    "CalibrationTable",
    "Forecast",
    "ForecastError",
    "Point",
    "backtest",
    "backtest_many",
    "calibrate",
    "calibrated",
    "calibration_origins",
    "forecast",
    "forecast_many",
    "normal_quantile",
    "select_lags",
]
