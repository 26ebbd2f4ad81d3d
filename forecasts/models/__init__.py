"""What is stored: imported datasets, regions and their yearly populations, and forecast runs.

Region and YearlyPopulation hold the active dataset's data only; an import replaces them in one
transaction. Forecast runs keep their regions' codes and names and their results, so history stays
true after the data is refreshed.
"""

from .backtests import BacktestResult, BacktestRun
from .budgets import RunBudgetUse
from .data import (
    Dataset,
    DatasetCalibration,
    Region,
    RegionQuerySet,
    YearlyPopulation,
    YearlyPopulationQuerySet,
)
from .jobs import Job
from .runs import ForecastPoint, ForecastRun

__all__ = [
    "BacktestResult",
    "BacktestRun",
    "Dataset",
    "DatasetCalibration",
    "ForecastPoint",
    "ForecastRun",
    "Job",
    "Region",
    "RegionQuerySet",
    "RunBudgetUse",
    "YearlyPopulation",
    "YearlyPopulationQuerySet",
]
