"""The use cases every front door shares, one module per subject: datasets (imports), forecasts
(compute), runs (store, read back, re-run, prune), calibration (the tables behind calibrated
intervals), backtests, jobs and the world ranking (world). Views, API
views, admin actions and commands parse their input, then call one of these."""

from .backtests import accuracy_refresh, backtest_run_create
from .datasets import (
    DatasetImportError,
    ImportBusyError,
    dataset_import,
    dataset_import_upload,
    upload_store,
)
from .forecasts import (
    RegionForecast,
    forecast_compute,
    forecast_document,
    region_outlook,
    required_data,
)
from .jobs import (
    job_import_enqueue,
    job_progress,
    job_prune_enqueue,
    job_rerun_enqueue,
    jobs_mark_interrupted,
)
from .runs import (
    RegionsMissingError,
    StoredRun,
    forecast_run_create,
    forecast_run_find,
    forecast_run_rerun,
    forecast_run_results,
    forecast_run_reuse_or_create,
    forecast_runs_prune,
    forecast_runs_rerun,
)
from .world import WorldRanking, WorldRow, world_ranking, world_rows

__all__ = [
    "DatasetImportError",
    "ImportBusyError",
    "RegionForecast",
    "RegionsMissingError",
    "StoredRun",
    "WorldRanking",
    "WorldRow",
    "accuracy_refresh",
    "backtest_run_create",
    "dataset_import",
    "dataset_import_upload",
    "forecast_compute",
    "forecast_document",
    "forecast_run_create",
    "forecast_run_find",
    "forecast_run_reuse_or_create",
    "forecast_run_rerun",
    "forecast_run_results",
    "forecast_runs_prune",
    "forecast_runs_rerun",
    "job_import_enqueue",
    "job_progress",
    "job_prune_enqueue",
    "job_rerun_enqueue",
    "jobs_mark_interrupted",
    "region_outlook",
    "required_data",
    "world_ranking",
    "world_rows",
    "upload_store",
]
