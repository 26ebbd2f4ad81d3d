"""The calibration tables of the active data: the default model's is computed at import and stored
with the dataset; the AutoReg methods' are built on first use and shared through the cache."""

from django.core.cache import cache

from forecasts import modeling, rules
from forecasts.active_data import ActiveData
from forecasts.models import DatasetCalibration

# Tables are kept for an hour in the shared cache; each process also keeps its own per generation.
CALIBRATION_CACHE_SECONDS = 60 * 60


def forecast_calibration(data: ActiveData, *, method: str, lags: int | str):
    """The calibration table of ``method``/``lags`` on this data, or None (the original app's
    model keeps its model-based intervals; data too short to calibrate does too).

    Built from every region's history with rolling origins from 30 to 10 years before the last
    estimate, once per dataset in each process, and shared through the cache (a backtest builds
    it ahead).
    """
    if method == rules.ORIGINAL_METHOD:
        return None
    if method == rules.DAMPED_METHOD:
        return data.remember(("calibration", method), lambda: _damped_calibration(data))
    return data.remember(
        ("calibration", method, lags), lambda: _shared_calibration(data, method, lags)
    )


def _damped_calibration(data: ActiveData):
    """The damped model's table: stored with the dataset at import (services.datasets), so a
    fresh process has it with the active data. For data imported before that, or whose table
    measured another version of the model (damped.is_current), it is built from rolling origins
    over every region's history (about half a second on WPP2019), shared through the cache with
    the processes that load the same data meanwhile, and stored with the dataset: an upgrade
    pays for it once, not in every process it starts."""
    document = data.calibration if modeling.damped.is_current(data.calibration) else None
    if not document:
        version = modeling.longrange.MODEL_VERSION
        key = f"calibration:{data.dataset.pk}:{data.dataset.checksum}:damped:{version}"
        document = cache.get(key)
        if document is None:
            document = damped_calibration_document(data)
            cache.set(key, document, CALIBRATION_CACHE_SECONDS)
            DatasetCalibration.objects.update_or_create(
                dataset_id=data.dataset.pk, defaults={"damped": document}
            )
    return modeling.damped.table_from_json(document)


def damped_calibration_document(data: ActiveData) -> dict:
    """The damped model's calibration table of ``data`` as JSON ({} when the data is too short)."""
    last_year = max((int(years[-1]) for years, _ in data.estimates.values()), default=0)
    return modeling.damped.calibrate(data.estimates, last_year=last_year) or {}


def _shared_calibration(data: ActiveData, method: str, lags: int | str):
    # The method's version is in the key: a table measured with other arithmetic is not reused.
    version = modeling.model_version(method)
    key = f"calibration:{data.dataset.pk}:{data.dataset.checksum}:{method}:{lags}:{version}"
    table = cache.get(key)
    if table is None:
        table = False
        if data.estimates:
            last_year = max(int(years[-1]) for years, _ in data.estimates.values())
            try:
                table = modeling.calibrate(
                    data.estimates,
                    origins=modeling.calibration_origins(last_year),
                    lags=lags,
                    method=method,
                )
            except rules.ForecastError:
                table = False
        cache.set(key, table, CALIBRATION_CACHE_SECONDS)
    return table or None
